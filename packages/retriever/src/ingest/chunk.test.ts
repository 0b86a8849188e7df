import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CHUNK_DEFAULTS, chunkDocument, layoutDocument } from './chunk.js';
import { type ParsedDocument, parseDocument } from './parse.js';

const DOCS = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const words = (text: string) => text.split(/\s+/).filter((word) => word.length > 0).length;

/** A document of `n` numbered words in one paragraph, sentences of `sentence` words. */
function longParagraph(n: number, sentence: number): ParsedDocument {
  const parts: string[] = [];
  for (let i = 1; i <= n; i++) parts.push(i % sentence === 0 || i === n ? `w${i}.` : `w${i}`);
  return {
    part: '',
    title: 't',
    blocks: [
      { type: 'heading', depth: 1, text: 'T' },
      { type: 'text', text: parts.join(' ') },
    ],
  };
}

describe('layoutDocument + chunkDocument', () => {
  it('every passage is an exact slice of the document text, under its heading path', async () => {
    const [document] = await parseDocument(
      'onboarding.md',
      new Uint8Array(readFileSync(`${DOCS}onboarding.md`)),
      'markdown',
    );
    const layout = layoutDocument(document!);
    const chunks = chunkDocument(layout);
    expect(chunks.length).toBeGreaterThanOrEqual(5);
    for (const chunk of chunks) {
      expect(layout.text.slice(chunk.start, chunk.end)).toBe(chunk.text);
      expect(words(chunk.text)).toBeLessThanOrEqual(CHUNK_DEFAULTS.targetWords);
      expect(chunk.text).not.toMatch(/^#/m); // never crosses a heading
    }
    const handover = chunks.filter((chunk) => chunk.headingPath.at(-1) === 'Handover');
    expect(handover[0]!.headingPath).toEqual(['Harbor Lab onboarding', 'On-call rotation', 'Handover']);
    // the 118-word handover paragraph is cut at sentence ends, not mid-sentence
    expect(handover.length).toBe(2);
    expect(handover[0]!.text).toMatch(/\.$/);
    expect(handover.map((chunk) => chunk.text).join(' ')).toBe(
      layout.text.slice(handover[0]!.start, handover[1]!.end),
    );
  });

  it('packs whole paragraphs up to the target and cuts a run-on sentence into word windows', () => {
    const layout = layoutDocument(longParagraph(250, 1000)); // one 250-word "sentence"
    const chunks = chunkDocument(layout, { targetWords: 100, overlapWords: 0 });
    expect(chunks.map((chunk) => words(chunk.text))).toEqual([100, 100, 50]);
    expect(chunks[1]!.text.startsWith('w101 ')).toBe(true);
  });

  it('overlap repeats the last words of the previous passage of the section', () => {
    const layout = layoutDocument(longParagraph(200, 10));
    const chunks = chunkDocument(layout, { targetWords: 100, overlapWords: 20 });
    expect(chunks).toHaveLength(2);
    expect(chunks[1]!.text.startsWith('w81 ')).toBe(true);
    expect(words(chunks[1]!.text)).toBe(120);
    expect(layout.text.slice(chunks[1]!.start, chunks[1]!.end)).toBe(chunks[1]!.text);
  });

  it('refuses overlap not smaller than the target', () => {
    expect(() =>
      chunkDocument(layoutDocument(longParagraph(10, 5)), { targetWords: 10, overlapWords: 10 }),
    ).toThrow(/overlapWords/);
  });
});
