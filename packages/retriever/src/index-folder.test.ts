import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IndexMismatchError } from './errors.js';
import { HashingEncoder } from './hashing-encoder.js';
import { buildIndex, loadIndex, type RetrievalIndex } from './index-folder.js';
import { InProcessRetriever } from './retriever.js';
import { sampleCorpus } from './test-corpus.js';
import { writeTinyModelFolder } from './tiny-model.js';

const sample = sampleCorpus(300);
const hybridDir = join(sample.dir, 'hybrid');
let index: RetrievalIndex;

beforeAll(async () => {
  await buildIndex({
    corpus: sample.file,
    out: hybridDir,
    kind: 'hybrid',
    encoder: { type: 'hashing', dimension: 128 },
  });
  index = await loadIndex(hybridDir);
});
afterAll(async () => {
  await index?.close();
  rmSync(sample.dir, { recursive: true, force: true });
});

describe('buildIndex / loadIndex', () => {
  it('writes a manifest with checksum, encoder, parameters and counts', () => {
    const manifest = index.manifest;
    expect(manifest.kind).toBe('hybrid');
    expect(manifest.corpus.passages).toBe(300);
    expect(manifest.corpus.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.bm25).toMatchObject({ k1: 0.9, b: 0.4 });
    expect(manifest.dense?.encoder).toMatchObject({ type: 'hashing', dimension: 128 });
    expect(manifest.dense?.hnsw).toMatchObject({ m: 16, efConstruction: 200 });
    expect(manifest.hybrid).toEqual({ method: 'rrf', k: 60, depth: 100 });
  });

  it('answers with every method; the passage about the question comes first', async () => {
    for (const method of ['bm25', 'dense', 'hybrid'] as const) {
      const [hits] = await index.search(
        ['To date the United States is the only country to have conducted manned missions to the Moon'],
        3,
        method,
      );
      expect(hits?.[0]?.index).toBe(0);
      expect(hits).toHaveLength(3);
    }
  });

  it('exact and HNSW dense search agree at the top', async () => {
    const exact = await loadIndex(hybridDir, { exact: true });
    const query = ['Bobby Scott and Bob Russell ballad recorded by The Hollies'];
    const [a] = await exact.search(query, 5, 'dense');
    const [b] = await index.search(query, 5, 'dense');
    expect(b?.[0]?.index).toBe(a?.[0]?.index);
    expect(b?.[0]?.score).toBeCloseTo(a![0]!.score, 5);
    await exact.close();
  });

  it('the in-process retriever returns id, title, text, contents and score', async () => {
    const retriever = new InProcessRetriever(index, 'bm25');
    const [hits] = await retriever.search(['Moon landing manned missions'], 2);
    const first = hits![0]!;
    expect(first.id).toBe('0');
    expect(first.title).toBe('Moon landing');
    expect(first.contents).toBe(`"Moon landing"\n${first.text}`);
    expect(first.score).toBeGreaterThan(0);
  });

  it('refuses a different encoder, a different corpus, and a damaged folder', async () => {
    await expect(loadIndex(hybridDir, { encoder: new HashingEncoder({ dimension: 128 }) })).rejects.toThrow(
      /encoder mismatch/,
    );
    const other = join(sample.dir, 'other.jsonl');
    writeFileSync(other, readFileSync(sample.file, 'utf8').replace('Moon', 'Mars'));
    await expect(loadIndex(hybridDir, { corpus: other })).rejects.toThrow(IndexMismatchError);
    await expect(loadIndex(hybridDir, { corpus: sample.file })).resolves.toBeDefined();
    await expect(loadIndex(join(sample.dir, 'nowhere'))).rejects.toThrow(/no manifest\.json/);
    const manifestFile = join(hybridDir, 'manifest.json');
    const original = readFileSync(manifestFile, 'utf8');
    writeFileSync(manifestFile, original.replace('"passages": 300', '"passages": 301'));
    await expect(loadIndex(hybridDir)).rejects.toThrow(
      /document store holds 300 passages, the manifest says 301/,
    );
    writeFileSync(manifestFile, original);
  });

  it('refuses to write into a non-empty folder that is not an index', async () => {
    // (the corpus lies inside it too: refused even with force, since the switch would delete it)
    await expect(buildIndex({ corpus: sample.file, out: sample.dir, kind: 'bm25' })).rejects.toThrow(
      /inside --out/,
    );
  });

  it('builds and reloads a dense index with a local ONNX model', async () => {
    const modelDir = join(sample.dir, 'tiny-model');
    writeTinyModelFolder(modelDir, {
      texts: sample.lines.map((line) => (JSON.parse(line) as { contents: string }).contents),
      hidden: 16,
    });
    const out = join(sample.dir, 'onnx-index');
    const manifest = await buildIndex({
      corpus: sample.file,
      out,
      kind: 'dense',
      encoder: { type: 'onnx', modelDir, batchSize: 32 },
    });
    expect(manifest.dense?.encoder).toMatchObject({ type: 'onnx', dimension: 16, queryPrefix: 'query: ' });
    const loaded = await loadIndex(out, { exact: true });
    const [hits] = await loaded.search(['moon landing'], 4);
    expect(hits).toHaveLength(4);
    expect(hits![0]!.score).toBeGreaterThanOrEqual(hits![3]!.score);
    await loaded.close();
  });
});
