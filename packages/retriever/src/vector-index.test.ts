import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { normalizeRows } from './encoder.js';
import { HashingEncoder, HashingIdfFitter } from './hashing-encoder.js';
import { reciprocalRankFusion } from './hybrid.js';
import { sampleCorpus } from './test-corpus.js';
import { TopK } from './top-k.js';
import { FlatIndex, HnswIndex } from './vector-index.js';

describe('TopK', () => {
  it('keeps the k best, ties by lower index, like a full sort', () => {
    const rng = createRng(5);
    const values = Array.from({ length: 500 }, (_, index) => ({ index, score: Math.floor(rng.next() * 50) }));
    const top = new TopK(17);
    for (const value of values) top.push(value.index, value.score);
    const expected = [...values].sort((a, b) => b.score - a.score || a.index - b.index).slice(0, 17);
    expect(top.sorted()).toEqual(expected);
  });
});

describe('FlatIndex', () => {
  it('is exact: equals a brute-force sort of inner products', () => {
    const rng = createRng(11);
    const dimension = 8;
    const vectors = normalizeRows(
      Float32Array.from({ length: 100 * dimension }, () => rng.normal()),
      dimension,
    );
    const query = normalizeRows(
      Float32Array.from({ length: dimension }, () => rng.normal()),
      dimension,
    );
    const expected = Array.from({ length: 100 }, (_, row) => {
      let dot = 0;
      for (let d = 0; d < dimension; d++) dot += query[d]! * vectors[row * dimension + d]!;
      return { index: row, score: dot };
    })
      .sort((a, b) => b.score - a.score || a.index - b.index)
      .slice(0, 5);
    const got = new FlatIndex(vectors, dimension).search(query, 5)[0]!;
    expect(got.map((hit) => hit.index)).toEqual(expected.map((hit) => hit.index));
    got.forEach((hit, rank) => {
      expect(hit.score).toBeCloseTo(expected[rank]!.score, 5);
    });
  });
});

describe('HnswIndex', () => {
  it('reaches recall@10 ≥ 0.95 against exact search on real passages, and survives save/load', () => {
    const texts = sampleCorpus(600).lines.map((line) => (JSON.parse(line) as { contents: string }).contents);
    const fitter = new HashingIdfFitter();
    for (const text of texts) fitter.add(text);
    const encoder = new HashingEncoder({ dimension: 128, idf: fitter.finish() });
    const vectors = encoder.encodeSync(texts);
    const queries = encoder.encodeSync(
      texts.slice(0, 100).map((text) => text.split(' ').slice(2, 9).join(' ')),
    );
    const exact = new FlatIndex(vectors, 128).search(queries, 10);
    const hnsw = HnswIndex.build(vectors, 128, { m: 16, efConstruction: 100, ef: 64 });
    const recall = (results: { index: number }[][]) => {
      let found = 0;
      results.forEach((hits, q) => {
        const truth = new Set(exact[q]!.map((hit) => hit.index));
        found += hits.filter((hit) => truth.has(hit.index)).length;
      });
      return found / (10 * results.length);
    };
    const approximate = hnsw.search(queries, 10);
    expect(recall(approximate)).toBeGreaterThanOrEqual(0.95);
    expect(approximate[0]![0]!.score).toBeCloseTo(exact[0]![0]!.score, 5);
    const dir = mkdtempSync(join(tmpdir(), 'sr1-hnsw-'));
    hnsw.save(join(dir, 'hnsw.bin'));
    const loaded = HnswIndex.load(join(dir, 'hnsw.bin'), 128, 64);
    expect(loaded.size).toBe(600);
    expect(loaded.search(queries, 10)).toEqual(approximate);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('reciprocalRankFusion', () => {
  it('sums 1/(k + rank) over the lists', () => {
    const fused = reciprocalRankFusion(
      [
        [
          { index: 1, score: 9 },
          { index: 2, score: 8 },
        ],
        [
          { index: 2, score: 0.9 },
          { index: 3, score: 0.8 },
        ],
      ],
      3,
      60,
    );
    expect(fused.map((hit) => hit.index)).toEqual([2, 1, 3]);
    expect(fused[0]!.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[1]!.score).toBeCloseTo(1 / 61, 12);
    expect(fused[2]!.score).toBeCloseTo(1 / 62, 12);
  });
});
