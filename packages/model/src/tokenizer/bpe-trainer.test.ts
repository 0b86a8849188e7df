import { describe, expect, it } from 'vitest';
import { bytesToUnicode, preTokenize, trainBpeTokenizer } from './bpe-trainer.js';
import { createTokenizer } from './tokenizer.js';

const texts = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps.',
  '<think> I need to search. </think>\n<search> capital of France </search>\n',
  '<information>Doc 1(Title: "Paris") Paris is the capital of France.</information>\n<answer> Paris </answer>',
  "It's 1969: they're here, we'll see — naïve café 東京 🚀\r\n\ttabs  and   spaces ",
];

describe('trainBpeTokenizer', () => {
  it('maps all 256 bytes to distinct printable characters', () => {
    const table = bytesToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[32]).toBe('Ġ');
    expect(table[10]).toBe('Ċ');
    expect(table[65]).toBe('A');
  });

  it('pre-tokenises like Qwen2 (tags split into ordinary pieces)', () => {
    expect(preTokenize('<search> who </search>')).toEqual(['<search', '>', ' who', ' </', 'search', '>']);
    expect(preTokenize("it's 42")).toEqual(['it', "'s", ' ', '4', '2']);
  });

  it('learns merges deterministically up to the vocab size, specials last', () => {
    const corpus = Array.from({ length: 20 }, () => texts).flat();
    const a = trainBpeTokenizer(corpus, { vocabSize: 320 });
    const b = trainBpeTokenizer(corpus, { vocabSize: 320 });
    expect(a.merges).toEqual(b.merges);
    expect(a.vocab.size).toBe(320);
    expect(a.vocab.get('<|endoftext|>')).toBe(317);
    expect(a.vocab.get('<|im_end|>')).toBe(319);
    // the first merge is the most frequent adjacent byte pair, counted here by brute force
    const table = bytesToUnicode();
    const pairCounts = new Map<string, number>();
    for (const text of corpus) {
      for (const piece of preTokenize(text)) {
        const bytes = [...new TextEncoder().encode(piece)].map((byte) => table[byte]!);
        for (let i = 0; i + 1 < bytes.length; i++) {
          const key = `${bytes[i]} ${bytes[i + 1]}`;
          pairCounts.set(key, (pairCounts.get(key) ?? 0) + 1);
        }
      }
    }
    const best = Math.max(...pairCounts.values());
    expect(pairCounts.get(a.merges[0]!.join(' '))).toBe(best);
    expect(() => trainBpeTokenizer(corpus, { vocabSize: 100 })).toThrow(/field 'vocabSize'/);
  });

  it('emits a tokenizer.json that transformers loads and that round-trips text exactly', () => {
    const corpus = Array.from({ length: 20 }, () => texts).flat();
    const trained = trainBpeTokenizer(corpus, { vocabSize: 400 });
    const tokenizer = createTokenizer(trained.tokenizerJson, trained.tokenizerConfig);
    expect(tokenizer.vocabSize).toBe(400);
    expect(tokenizer.eosTokenIds).toEqual([trained.vocab.get('<|im_end|>')]);
    expect(tokenizer.padTokenId).toBe(trained.vocab.get('<|endoftext|>'));
    for (const text of [...texts, 'unseen wörds ∑ 𝔘 \u0000 end', '']) {
      const ids = tokenizer.encode(text);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    // merges compress: frequent words become single tokens
    const ids = tokenizer.encode(' the capital of France');
    expect(ids.length).toBeLessThan(8);
    // special tokens in text are matched as one id
    expect(tokenizer.encode('<|im_end|>')).toEqual([trained.vocab.get('<|im_end|>')]);
  });

  it('renders the ChatML template', () => {
    const trained = trainBpeTokenizer(texts, { vocabSize: 300 });
    const tokenizer = createTokenizer(trained.tokenizerJson, trained.tokenizerConfig);
    expect(tokenizer.hasChatTemplate).toBe(true);
    expect(
      tokenizer.applyChatTemplate([{ role: 'user', content: 'Hi' }], { addGenerationPrompt: true }),
    ).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n',
    );
  });
});
