// Damaged index files (issue #12, item 8): each is refused at load with a typed error naming the
// file, and hnswlib is never handed a file that fails validation (a bad header used to segfault).

import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexCorruptError } from './errors.js';
import { buildIndex, loadIndex } from './index-folder.js';
import { sampleCorpus } from './test-corpus.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const sample = sampleCorpus(200);
const pristine = join(sample.dir, 'pristine');
let copies = 0;

beforeAll(async () => {
  await buildIndex({
    corpus: sample.file,
    out: pristine,
    kind: 'hybrid',
    encoder: { type: 'hashing', dimension: 32 },
  });
});
afterAll(() => rmSync(sample.dir, { recursive: true, force: true }));

/** A fresh copy of the index with `damage` applied to it. */
function damaged(damage: (dir: string) => void): string {
  const dir = join(sample.dir, `copy-${copies++}`);
  cpSync(pristine, dir, { recursive: true });
  damage(dir);
  return dir;
}

function overwrite(file: string, at: number, bytes: number[]): void {
  const data = readFileSync(file);
  data.set(bytes, at);
  writeFileSync(file, data);
}

describe('corrupted index files', () => {
  it('the pristine copy loads', async () => {
    const index = await loadIndex(damaged(() => {}));
    expect(index.size).toBe(200);
    await index.close();
  });

  it('an hnsw.bin with a bad header fails with one typed line naming the file, not a segfault', () => {
    const dir = damaged((d) =>
      overwrite(join(d, 'dense/hnsw.bin'), 0, [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
    );
    const result = spawnSync(process.execPath, [CLI, 'query', '--index', dir, '--method', 'dense', 'moon'], {
      encoding: 'utf8',
    });
    expect(result.signal).toBeNull();
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('hnsw.bin');
  });

  it.each([
    [
      'dense/hnsw.bin',
      'header',
      (d: string) => overwrite(join(d, 'dense/hnsw.bin'), 0, [1, 2, 3, 4, 5, 6, 7, 8]),
    ],
    ['dense/hnsw.bin', 'truncated', (d: string) => truncateSync(join(d, 'dense/hnsw.bin'), 1000)],
    ['bm25/postings.bin', 'truncated', (d: string) => truncateSync(join(d, 'bm25/postings.bin'), 1000)],
    ['bm25/lexicon.bin', 'truncated', (d: string) => truncateSync(join(d, 'bm25/lexicon.bin'), 1001)],
    ['bm25/doclens.u32', 'truncated', (d: string) => truncateSync(join(d, 'bm25/doclens.u32'), 40)],
    ['docs.offsets', 'truncated', (d: string) => truncateSync(join(d, 'docs.offsets'), 80)],
    ['docs.jsonl', 'one byte changed', (d: string) => overwrite(join(d, 'docs.jsonl'), 5000, [0x21])],
    [
      'bm25/postings.bin',
      'one byte changed',
      (d: string) => overwrite(join(d, 'bm25/postings.bin'), 64, [0x7f]),
    ],
    ['dense/vectors.f32', 'truncated', (d: string) => truncateSync(join(d, 'dense/vectors.f32'), 64)],
    ['dense/hashing-idf.f32', 'truncated', (d: string) => truncateSync(join(d, 'dense/hashing-idf.f32'), 64)],
  ])('%s (%s) is refused at load with IndexCorruptError naming it', async (file, _how, damage) => {
    const dir = damaged(damage);
    const error = await loadIndex(dir).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(IndexCorruptError);
    expect((error as IndexCorruptError).file).toBe(join(dir, file));
    expect((error as Error).message).toContain(file);
  });

  it('structural checks alone catch a truncated postings file in an index whose manifest has no checksums', async () => {
    const dir = damaged((d) => {
      const manifestFile = join(d, 'manifest.json');
      const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Record<string, unknown>;
      delete manifest.files;
      writeFileSync(manifestFile, JSON.stringify(manifest));
      truncateSync(join(d, 'bm25/postings.bin'), 1000);
    });
    await expect(loadIndex(dir)).rejects.toThrow(/postings\.bin/);
    await expect(loadIndex(dir)).rejects.toBeInstanceOf(IndexCorruptError);
  });
});
