import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CorpusDigest,
  DocStore,
  DocStoreWriter,
  parseCorpusLine,
  readCorpus,
  sha256File,
  splitContents,
} from './corpus.js';
import { CorpusFormatError, RetrieverInputError } from './errors.js';
import { sampleCorpus } from './test-corpus.js';

const sample = sampleCorpus(200);
afterAll(() => rmSync(sample.dir, { recursive: true, force: true }));

describe('splitContents', () => {
  it.each([
    ['"Moon landing"\nTo date, the United States', 'Moon landing', 'To date, the United States'],
    ['"He Ain\'t Heavy"\n"He Ain\'t Heavy" is a ballad', "He Ain't Heavy", '"He Ain\'t Heavy" is a ballad'],
    ['Unquoted title\nline one\nline two', 'Unquoted title', 'line one\nline two'],
    ['""Doubled""\ntext', 'Doubled', 'text'],
    ['"Only a title"', 'Only a title', ''],
  ])('%j', (contents, title, text) => {
    expect(splitContents(contents)).toEqual({ title, text });
  });
});

describe('parseCorpusLine', () => {
  it('accepts string and integer ids', () => {
    expect(parseCorpusLine('{"id": "7", "contents": "\\"T\\"\\nx"}', 'c.jsonl', 1)).toEqual({
      id: '7',
      contents: '"T"\nx',
    });
    expect(parseCorpusLine('{"id": 7, "contents": "x", "extra": 1}', 'c.jsonl', 1)).toEqual({
      id: '7',
      contents: 'x',
    });
  });

  it.each([
    ['{"id": "1", "contents": ', /c\.jsonl:12: not valid JSON/],
    ['[1, 2]', /c\.jsonl:12: expected a JSON object/],
    ['{"contents": "x"}', /c\.jsonl:12: field 'id'/],
    ['{"id": 1.5, "contents": "x"}', /c\.jsonl:12: field 'id'/],
    ['{"id": "1"}', /c\.jsonl:12: field 'contents': expected a string/],
    ['{"id": "1", "contents": 3}', /c\.jsonl:12: field 'contents'/],
  ])('rejects %s with a typed error naming file and line', (line, message) => {
    let caught: unknown;
    try {
      parseCorpusLine(line, 'c.jsonl', 12);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CorpusFormatError);
    expect((caught as CorpusFormatError).line).toBe(12);
    expect((caught as CorpusFormatError).file).toBe('c.jsonl');
    expect((caught as Error).message).toMatch(message);
  });
});

describe('readCorpus', () => {
  it('streams every passage in order and digests the file', async () => {
    const digest: Partial<CorpusDigest> = {};
    const ids: string[] = [];
    for await (const passage of readCorpus(sample.file, { digest })) ids.push(passage.id);
    expect(ids).toEqual(sample.lines.map((line) => (JSON.parse(line) as { id: string }).id));
    expect(digest.passages).toBe(200);
    expect(digest.sha256).toBe(await sha256File(sample.file));
  });

  it('names the file and line of a malformed line, skipping blank lines', async () => {
    const file = join(sample.dir, 'broken.jsonl');
    writeFileSync(file, `${sample.lines[0]}\n\n${sample.lines[1]}\n{"id": "x", "contents": 5}\n`);
    const read = async () => {
      for await (const _ of readCorpus(file)) {
        // consume
      }
    };
    await expect(read()).rejects.toThrow(/broken\.jsonl:4: field 'contents'/);
  });
});

describe('DocStore', () => {
  it('gives random access by index and by id, identical to the corpus', () => {
    const writer = new DocStoreWriter(join(sample.dir, 'docs.jsonl'), join(sample.dir, 'docs.offsets'));
    const passages = sample.lines.map((line) => JSON.parse(line) as { id: string; contents: string });
    for (const passage of passages) writer.add(passage);
    expect(writer.close()).toEqual({ passages: 200, ordinalIds: true });
    const store = DocStore.open(join(sample.dir, 'docs.jsonl'), join(sample.dir, 'docs.offsets'), true);
    expect(store.size).toBe(200);
    for (const index of [0, 199, 57, 3, 128]) {
      expect(store.get(index)).toEqual({ id: passages[index]!.id, contents: passages[index]!.contents });
      expect(JSON.parse(store.rawJson(index))).toEqual(store.get(index));
    }
    expect(store.getById('57')?.contents).toBe(passages[57]!.contents);
    expect(store.getById('200')).toBeUndefined();
    expect(store.getParsed(0).title).toBe('Moon landing');
    expect(() => store.get(200)).toThrow(RetrieverInputError);
    expect(() => store.get(200)).toThrow(/passage index 200 outside \[0, /);
    store.close();
  });

  it('maps arbitrary ids when they are not ordinal', () => {
    const writer = new DocStoreWriter(join(sample.dir, 'named.jsonl'), join(sample.dir, 'named.offsets'));
    writer.add({ id: 'doc-b', contents: '"B"\nbee ✓' });
    writer.add({ id: 'doc-a', contents: '"A"\nay' });
    expect(writer.close().ordinalIds).toBe(false);
    const store = DocStore.open(join(sample.dir, 'named.jsonl'), join(sample.dir, 'named.offsets'), false);
    expect(store.getById('doc-a')).toEqual({ id: 'doc-a', contents: '"A"\nay' });
    expect(store.get(0).contents).toBe('"B"\nbee ✓');
    expect(store.getById('1')).toBeUndefined();
    store.close();
  });
});
