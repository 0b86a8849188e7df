import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSftJsonl, recordToSegments, type SftTokenizer, tokenizeExample } from './sft-data.js';

/** A real character-level tokenizer: one id per UTF-16 unit, EOS = 0. */
const CHARS: SftTokenizer = {
  encode: (text) => Array.from(text, (c) => c.charCodeAt(0)),
  eosTokenIds: [0],
  applyChatTemplate: (messages, options) =>
    messages.map((m) => `<${m.role}>${m.content}`).join('') +
    (options?.addGenerationPrompt ? '<assistant>' : ''),
};

describe('SFT data', () => {
  it('masks the prompt and keeps the response and EOS', () => {
    const example = tokenizeExample(recordToSegments({ prompt: 'ab', response: 'cd' }), CHARS, 100);
    expect(example.tokens).toEqual([97, 98, 99, 100, 0]);
    expect(example.lossMask).toEqual([0, 0, 1, 1, 1]);
  });

  it('follows explicit segments, so inserted retrieval text costs no loss', () => {
    const segments = recordToSegments({
      segments: [
        { text: 'q', loss: false },
        { text: 's', loss: true },
        { text: 'i', loss: false },
        { text: 'a', loss: true },
      ],
    });
    expect(tokenizeExample(segments, CHARS, 100).lossMask).toEqual([0, 1, 0, 1, 1]);
  });

  it('renders chat messages through the template with loss on the last assistant turn', () => {
    const example = tokenizeExample(
      recordToSegments({
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: 'yo' },
        ],
      }),
      CHARS,
      100,
    );
    const prompt = '<user>hi<assistant>';
    expect(example.tokens.length).toBe(prompt.length + 3);
    expect(example.lossMask.filter((m) => m === 1).length).toBe(3);
  });

  it('truncates to maxLength and reports how much', () => {
    const example = tokenizeExample(recordToSegments({ text: 'abcdef' }), CHARS, 4);
    expect(example.tokens).toEqual([97, 98, 99, 100]);
    expect(example.truncated).toBe(3);
  });

  it('names the file, line and field of a bad record', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-sft-'));
    const file = join(dir, 'data.jsonl');
    await writeFile(file, '{"text": "ok"}\n\n{"prompt": "p", "response": 5}\n');
    await expect(readSftJsonl(file)).rejects.toThrow(
      `${file}:3: field 'response': expected a string, got number`,
    );
    await writeFile(file, '{"text": "ok"}\n{oops\n');
    await expect(readSftJsonl(file)).rejects.toThrow(`${file}:2: invalid JSON`);
    await writeFile(file, '{"messages": [{"role": "bot", "content": "x"}]}\n');
    await expect(readSftJsonl(file)).rejects.toThrow("field 'messages[0].role'");
    await expect(readSftJsonl(join(dir, 'missing.jsonl'))).rejects.toThrow('file not found');
  });
});
