// Corpus checks at index time (issue #12, item 10): duplicate ids and invalid UTF-8 are refused
// naming file:line unless an option says to skip (or replace) them, and then they are reported;
// an empty corpus is a typed error.

import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CorpusReport, readCorpus } from './corpus.js';
import { CorpusFormatError, EmptyCorpusError } from './errors.js';
import { buildIndex, loadIndex } from './index-folder.js';
import { sampleCorpus } from './test-corpus.js';

const sample = sampleCorpus(30);
afterAll(() => rmSync(sample.dir, { recursive: true, force: true }));

const line = (id: string | number, text: string) => JSON.stringify({ id, contents: `"T${id}"\n${text}` });

async function collect(file: string, options: Parameters<typeof readCorpus>[1] = {}): Promise<string[]> {
  const ids: string[] = [];
  for await (const passage of readCorpus(file, options)) ids.push(passage.id);
  return ids;
}

describe('duplicate ids', () => {
  const file = join(sample.dir, 'dups.jsonl');
  writeFileSync(
    file,
    [
      line(0, 'a'),
      line(1, 'b'),
      line(2, 'c'),
      line(1, 'again'),
      line('x', 'd'),
      line('x', 'e'),
      line(0, 'f'),
    ].join('\n'),
  );

  it('are refused with a typed error naming file:line and the first line', async () => {
    const error = await collect(file).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(CorpusFormatError);
    expect((error as Error).message).toBe(
      `${file}:4: field 'id': duplicate id '1' (first at line 2); pass --duplicate-ids skip to keep the first and report the rest`,
    );
  });

  it('are skipped and reported when asked, keeping the first', async () => {
    const report: Partial<CorpusReport> = {};
    expect(await collect(file, { duplicateIds: 'skip', report })).toEqual(['0', '1', '2', 'x']);
    expect(report.duplicateIds).toEqual({ count: 3, lines: [4, 6, 7] });
  });

  it('the index build refuses them, or records the report in the manifest', async () => {
    const out = join(sample.dir, 'dup-index');
    await expect(buildIndex({ corpus: file, out, kind: 'bm25' })).rejects.toThrow(
      /dups\.jsonl:4: field 'id': duplicate id '1'/,
    );
    const manifest = await buildIndex({ corpus: file, out, kind: 'bm25', duplicateIds: 'skip' });
    expect(manifest.corpus.passages).toBe(4);
    expect(manifest.corpus.report?.duplicateIds).toEqual({ count: 3, lines: [4, 6, 7] });
    const index = await loadIndex(out);
    expect(index.docs.getById('1')?.contents).toBe('"T1"\nb');
    await index.close();
  });
});

describe('invalid UTF-8', () => {
  const file = join(sample.dir, 'latin1.jsonl');
  const bad = Buffer.concat([
    Buffer.from('{"id": "1", "contents": "caf'),
    Buffer.from([0xe9]),
    Buffer.from('"}\n'),
  ]);
  writeFileSync(
    file,
    Buffer.concat([Buffer.from(`${line(0, 'fine ✓')}\n`), bad, Buffer.from(`${line(2, 'also fine')}\n`)]),
  );

  it('is refused naming file:line', async () => {
    await expect(collect(file)).rejects.toThrow(
      `${file}:2: not valid UTF-8; pass --invalid-utf8 replace or skip`,
    );
    await expect(collect(file)).rejects.toBeInstanceOf(CorpusFormatError);
  });

  it('is replaced (U+FFFD) or skipped and reported when asked', async () => {
    const replaced: Partial<CorpusReport> = {};
    const contents: string[] = [];
    for await (const passage of readCorpus(file, { invalidUtf8: 'replace', report: replaced }))
      contents.push(passage.contents);
    expect(contents[1]).toBe('caf\uFFFD');
    expect(replaced.invalidUtf8).toEqual({ count: 1, lines: [2] });
    const skipped: Partial<CorpusReport> = {};
    expect(await collect(file, { invalidUtf8: 'skip', report: skipped })).toEqual(['0', '2']);
    expect(skipped.invalidUtf8).toEqual({ count: 1, lines: [2] });
  });

  it('a multi-byte character split across read chunks is valid', async () => {
    const big = join(sample.dir, 'big.jsonl');
    const lines = Array.from({ length: 3000 }, (_, i) => line(i, `${'é✓'.repeat(200)} ${i}`));
    writeFileSync(big, `${lines.join('\n')}\n`);
    const ids = await collect(big);
    expect(ids).toHaveLength(3000);
    expect(readFileSync(big).length).toBeGreaterThan(1 << 20); // more than one read chunk
  });
});

describe('empty corpus', () => {
  it.each([
    ['empty.jsonl', ''],
    ['blank.jsonl', '\n\n  \n'],
  ])('%s is a typed error and writes nothing', async (name, text) => {
    const file = join(sample.dir, name);
    writeFileSync(file, text);
    const out = join(sample.dir, `${name}-index`);
    await expect(buildIndex({ corpus: file, out, kind: 'bm25' })).rejects.toBeInstanceOf(EmptyCorpusError);
    await expect(buildIndex({ corpus: file, out, kind: 'bm25' })).rejects.toThrow(
      `${file}: the corpus holds no passages`,
    );
    await expect(loadIndex(out)).rejects.toThrow(/no manifest\.json/);
  });
});
