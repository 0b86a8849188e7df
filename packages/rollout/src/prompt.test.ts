import { describe, expect, it } from 'vitest';
import { buildPrompt, encodePrompt, normalizeQuestion } from './prompt.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';
import type { ChatMessage, Tokenizer } from './types.js';

const REFERENCE_PROMPT =
  'Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new information. After reasoning, if you find you lack some knowledge, you can call a search engine by <search> query </search> and it will return the top searched results between <information> and </information>. You can search as many times as your want. If you find no further external knowledge needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. Question: when was the last time anyone was on the moon?\n';

describe('prompts', () => {
  it('normalises the question as the reference: strip, add ? unless present', () => {
    expect(normalizeQuestion('  who sang i ran all the way home \n')).toBe(
      'who sang i ran all the way home?',
    );
    expect(normalizeQuestion('is it?')).toBe('is it?');
    expect(() => normalizeQuestion('   ')).toThrow(/field 'question': the question is empty/);
  });

  it('renders the reference instruction verbatim', () => {
    expect(buildPrompt('when was the last time anyone was on the moon', undefined)).toBe(REFERENCE_PROMPT);
    const tokenizer = new PieceTokenizer();
    expect(tokenizer.decode(encodePrompt('when was the last time anyone was on the moon', tokenizer))).toBe(
      REFERENCE_PROMPT,
    );
  });

  it("applies the tokenizer's chat template when it has one (auto), or when asked", () => {
    const seen: ChatMessage[][] = [];
    const chat: Tokenizer = {
      eosTokenIds: [0],
      encode: () => [],
      decode: () => '',
      hasChatTemplate: true,
      applyChatTemplate: (messages, options) => {
        seen.push([...messages]);
        return `<|user|>${messages[0]?.content}<|end|>${options?.addGenerationPrompt ? '<|assistant|>' : ''}`;
      },
    };
    expect(buildPrompt('q', chat)).toBe(
      `<|user|>${REFERENCE_PROMPT.replace(/Question: .*\n$/, 'Question: q?\n')}<|end|><|assistant|>`,
    );
    expect(seen[0]?.[0]?.role).toBe('user');
    expect(buildPrompt('q', chat, { chatTemplate: false })).not.toContain('<|user|>');
    expect(() => buildPrompt('q', new PieceTokenizer(), { chatTemplate: true })).toThrow(
      /field 'chatTemplate'/,
    );
  });

  it('accepts custom templates and rejects unknown presets by listing the known ones', () => {
    expect(buildPrompt('Q', undefined, { template: { text: 'Q: {question}\nA:' } })).toBe('Q: Q?\nA:');
    expect(buildPrompt(' Q ', undefined, { template: (q) => `<${q}>`, rawQuestion: true })).toBe('< Q >');
    // biome-ignore lint/suspicious/noExplicitAny: testing the runtime check on a wrong name
    expect(() => buildPrompt('q', undefined, { template: 'r1' as any })).toThrow(
      /unknown prompt template 'r1'. Supported: \[search-r1, search-r1-hermes\]/,
    );
    expect(() => buildPrompt('q', undefined, { template: { text: 'no placeholder' } })).toThrow(
      /\{question\}/,
    );
  });
});
