import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoTokenizer, env } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { MissingFileError, TokenizerError } from '../errors.js';
import { SMALL_TOKENIZER } from '../testing/index.js';
import { SHARED_DATA_DIR } from '../testing/test-paths.js';
import { bytesToUnicode, preTokenize } from './bpe-trainer.js';
import { QWEN25_CHAT_TEMPLATE } from './qwen25-chat-template.js';
import { createTokenizer, loadTokenizer } from './tokenizer.js';

/** A plain BPE encoder (lowest-rank merge first), the reference for the library's encode. */
function referenceEncode(text: string, vocab: Record<string, number>, merges: string[]): number[] {
  const ranks = new Map(merges.map((merge, rank) => [merge, rank]));
  const table = bytesToUnicode();
  const ids: number[] = [];
  for (const piece of preTokenize(text)) {
    let parts = [...new TextEncoder().encode(piece)].map((byte) => table[byte]!);
    for (;;) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i + 1 < parts.length; i++) {
        const rank = ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      parts = [...parts.slice(0, best), parts[best]! + parts[best + 1]!, ...parts.slice(best + 2)];
    }
    for (const part of parts) ids.push(vocab[part]!);
  }
  return ids;
}

describe('the committed small tokenizer', async () => {
  const tokenizer = await loadTokenizer(SMALL_TOKENIZER);
  const json = JSON.parse(await readFile(join(SMALL_TOKENIZER, 'tokenizer.json'), 'utf8'));
  const corpus = (await readFile(join(SHARED_DATA_DIR, 'corpus.jsonl'), 'utf8'))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line).contents as string);

  it('has 2048 ids with ChatML specials; eos = <|im_end|>, pad = <|endoftext|>', () => {
    expect(tokenizer.vocabSize).toBe(2048);
    expect(tokenizer.eosTokenIds).toEqual([tokenizer.tokenToId('<|im_end|>')]);
    expect(tokenizer.padTokenId).toBe(tokenizer.tokenToId('<|endoftext|>'));
    expect(tokenizer.bosTokenId).toBeNull();
  });

  it('round-trips real passages exactly and encodes them as the plain BPE reference does', () => {
    for (const passage of corpus.slice(0, 200)) {
      const ids = tokenizer.encode(passage);
      expect(tokenizer.decode(ids)).toBe(passage);
      expect(ids).toEqual(referenceEncode(passage, json.model.vocab, json.model.merges));
    }
  });

  it('represents the Search-R1 tags as ordinary merged tokens, not special ones', () => {
    for (const tag of [
      '<search',
      '<answer',
      '<information',
      '<think',
      'search',
      'answer',
      'information',
      ' </',
    ]) {
      const ids = tokenizer.encode(tag);
      expect(ids, tag).toHaveLength(1);
      expect(ids[0]!).toBeLessThan(2045); // below the three specials
    }
    const text = '<search> capital of France </search>';
    expect(tokenizer.encode(text).map((id) => tokenizer.decode([id]))).toEqual([
      '<search',
      '>',
      ' capital',
      ' of',
      ' France',
      ' </',
      'search',
      '>',
    ]);
  });

  it('renders the chat template', () => {
    const prompt = tokenizer.applyChatTemplate([{ role: 'user', content: 'Who?' }], {
      addGenerationPrompt: true,
    });
    expect(prompt.endsWith('<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(tokenizer.decode(tokenizer.encode(prompt))).toBe(prompt);
    expect(tokenizer.decode(tokenizer.encode(prompt), { skipSpecialTokens: true })).not.toContain(
      '<|im_start|>',
    );
  });
});

describe('transformers AutoTokenizer with local files only', () => {
  it('loads the same tokenizer from the folder (Qwen2Tokenizer) and encodes identically', async () => {
    const saved = { allowRemoteModels: env.allowRemoteModels, localModelPath: env.localModelPath };
    env.allowRemoteModels = false; // never reach for the hub
    env.localModelPath = join(SMALL_TOKENIZER, '..');
    try {
      const auto = await AutoTokenizer.from_pretrained('tokenizer-small', { local_files_only: true });
      expect(auto.constructor.name).toBe('Qwen2Tokenizer');
      const ours = await loadTokenizer(SMALL_TOKENIZER);
      const text = '<think> plan </think>\n<search> who wrote Hamlet? </search>';
      expect(auto.encode(text, { add_special_tokens: false })).toEqual(ours.encode(text));
      // The chat template and decoding go through tokenizers.js and jinja directly: same text.
      const messages = [
        { role: 'system', content: 'Answer briefly.' },
        { role: 'user', content: 'Who wrote Hamlet?' },
      ];
      expect(ours.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(
        auto.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }),
      );
      const ids = ours.encode(ours.applyChatTemplate(messages));
      expect(ours.decode(ids, { skipSpecialTokens: true })).toBe(
        auto.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }),
      );
    } finally {
      env.allowRemoteModels = saved.allowRemoteModels;
      env.localModelPath = saved.localModelPath;
    }
  });
});

describe('chat templates with tools (Hermes tool calls)', () => {
  const tools = [
    {
      type: 'function' as const,
      function: {
        name: 'search',
        description: 'Search the knowledge base.',
        parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
      },
    },
  ];

  it("passes tools to Qwen2.5's template as transformers does, tool results as <tool_response>", async () => {
    const saved = { allowRemoteModels: env.allowRemoteModels, localModelPath: env.localModelPath };
    env.allowRemoteModels = false; // never reach for the hub
    env.localModelPath = join(SMALL_TOKENIZER, '..');
    try {
      const auto = await AutoTokenizer.from_pretrained('tokenizer-small', { local_files_only: true });
      const json = JSON.parse(await readFile(join(SMALL_TOKENIZER, 'tokenizer.json'), 'utf8'));
      const config = JSON.parse(await readFile(join(SMALL_TOKENIZER, 'tokenizer_config.json'), 'utf8'));
      const ours = createTokenizer(json, { ...config, chat_template: QWEN25_CHAT_TEMPLATE });
      const messages = [
        { role: 'user', content: 'Who wrote Hamlet?' },
        {
          role: 'assistant',
          content: '<tool_call>\n{"name": "search", "arguments": {"query": "Hamlet"}}\n</tool_call>',
        },
        { role: 'tool', content: 'Doc 1(Title: "Hamlet") by Shakespeare' },
      ];
      const rendered = ours.applyChatTemplate(messages, { addGenerationPrompt: true, tools });
      expect(rendered).toBe(
        auto.apply_chat_template(messages, {
          tokenize: false,
          add_generation_prompt: true,
          tools,
          chat_template: QWEN25_CHAT_TEMPLATE,
        }),
      );
      expect(rendered).toContain(
        '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
          'You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n' +
          '{"type": "function", "function": {"name": "search", "description": "Search the knowledge base.", ' +
          '"parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}}\n</tools>',
      );
      expect(
        rendered.endsWith(
          '<|im_start|>user\n<tool_response>\nDoc 1(Title: "Hamlet") by Shakespeare\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
        ),
      ).toBe(true);
      // Without tools the template renders the plain system turn.
      expect(ours.applyChatTemplate(messages.slice(0, 1), { addGenerationPrompt: true })).toBe(
        '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
          '<|im_start|>user\nWho wrote Hamlet?<|im_end|>\n<|im_start|>assistant\n',
      );
    } finally {
      env.allowRemoteModels = saved.allowRemoteModels;
      env.localModelPath = saved.localModelPath;
    }
  });
});

describe('loadTokenizer errors', () => {
  it('names the missing or broken file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-tok-'));
    await expect(loadTokenizer(dir)).rejects.toBeInstanceOf(MissingFileError);
    await writeFile(join(dir, 'tokenizer.json'), '{');
    await expect(loadTokenizer(dir)).rejects.toThrow(/tokenizer\.json: invalid JSON/);
    await writeFile(join(dir, 'tokenizer.json'), await readFile(join(SMALL_TOKENIZER, 'tokenizer.json')));
    await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<nope>' }));
    const attempt = loadTokenizer(dir);
    await expect(attempt).rejects.toBeInstanceOf(TokenizerError);
    await expect(loadTokenizer(dir)).rejects.toThrow(
      /tokenizer_config\.json: field 'eos_token': token '<nope>'/,
    );
  });
});
