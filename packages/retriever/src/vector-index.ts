// Nearest-neighbour search over unit vectors by inner product: exact flat search (ground truth
// and small corpora) and HNSW (Malkov & Yashunin 2018) through hnswlib-node.

import { createRequire } from 'node:module';
import { requireOptional } from '@sr1/core';
import type { HierarchicalNSW } from 'hnswlib-node';
import { RetrieverInputError } from './errors.js';
import { type HnswExpectation, validateHnswFile } from './hnsw-file.js';
import { type ScoredIndex, TopK } from './top-k.js';

const require = createRequire(import.meta.url);

/** hnswlib-node (a native build) is an optional peer dependency, loaded with the first HNSW index. */
function hnswlib(): typeof import('hnswlib-node') {
  return requireOptional('hnswlib-node', 'HNSW search (@sr1/retriever)', () => require('hnswlib-node'));
}

/** A searchable set of vectors; scores are inner products (cosine for unit vectors). */
export interface VectorIndex {
  readonly size: number;
  readonly dimension: number;
  /**
   * @param queries - shape (numQueries, dimension), row-major
   * @returns per query, the k best passages, best first
   */
  search(queries: Float32Array, k: number): ScoredIndex[][];
}

/** Exact inner-product search by a full scan. */
export class FlatIndex implements VectorIndex {
  readonly size: number;
  readonly dimension: number;
  /** shape (size, dimension) */
  readonly vectors: Float32Array;

  constructor(vectors: Float32Array, dimension: number) {
    if (vectors.length % dimension !== 0) {
      throw new RetrieverInputError(
        'dimension',
        `flat index: ${vectors.length} floats is not a multiple of dimension ${dimension}`,
      );
    }
    this.vectors = vectors;
    this.dimension = dimension;
    this.size = vectors.length / dimension;
  }

  search(queries: Float32Array, k: number): ScoredIndex[][] {
    const dimension = this.dimension;
    const vectors = this.vectors;
    const results: ScoredIndex[][] = [];
    for (let q = 0; q < queries.length / dimension; q++) {
      const query = queries.subarray(q * dimension, (q + 1) * dimension);
      const top = new TopK(Math.min(k, this.size));
      for (let row = 0; row < this.size; row++) {
        const base = row * dimension;
        let dot = 0;
        for (let d = 0; d < dimension; d++) dot += query[d]! * vectors[base + d]!;
        if (dot >= top.threshold()) top.push(row, dot);
      }
      results.push(top.sorted());
    }
    return results;
  }
}

/** HNSW graph parameters. */
export interface HnswParameters {
  /** Links per node (graph degree); memory grows by ~2·m·4 bytes per vector. */
  m: number;
  /** Candidate list size while building. */
  efConstruction: number;
  /** Candidate list size while searching (raised to k when k is larger). */
  ef: number;
  /** Seed of hnswlib's level generator. */
  seed: number;
}

export const DEFAULT_HNSW_PARAMETERS: HnswParameters = {
  m: 16, // hnswlib's default; build stays well under a minute for the shared corpus
  efConstruction: 200, // hnswlib's default
  ef: 128, // recall@10 ≈ 0.95 vs exact on the shared corpus (hashing-512 vectors); curve in docs/results.md
  seed: 100, // hnswlib's default seed
};

/** An HNSW index over unit vectors (hnswlib `ip` space: distance = 1 − inner product). */
export class HnswIndex implements VectorIndex {
  readonly dimension: number;
  private readonly index: HierarchicalNSW;
  private ef: number;

  private constructor(index: HierarchicalNSW, dimension: number, ef: number) {
    this.index = index;
    this.dimension = dimension;
    this.ef = ef;
    index.setEf(ef);
  }

  get size(): number {
    return this.index.getCurrentCount();
  }

  /** Creates an empty index with room for `capacity` vectors. */
  static create(dimension: number, capacity: number, parameters: Partial<HnswParameters> = {}): HnswIndex {
    const resolved = { ...DEFAULT_HNSW_PARAMETERS, ...parameters };
    const index = new (hnswlib().HierarchicalNSW)('ip', dimension);
    index.initIndex(Math.max(capacity, 1), resolved.m, resolved.efConstruction, resolved.seed);
    return new HnswIndex(index, dimension, resolved.ef);
  }

  /** Builds an index over (n, dimension) row-major vectors labelled 0..n−1. */
  static build(
    vectors: Float32Array,
    dimension: number,
    parameters: Partial<HnswParameters> = {},
    onProgress?: (done: number, total: number) => void,
  ): HnswIndex {
    const count = vectors.length / dimension;
    const index = HnswIndex.create(dimension, count, parameters);
    index.addBatch(vectors, 0, onProgress);
    return index;
  }

  /** Adds (n, dimension) vectors labelled firstLabel, firstLabel + 1, … */
  addBatch(
    vectors: Float32Array,
    firstLabel: number,
    onProgress?: (done: number, total: number) => void,
  ): void {
    const count = vectors.length / this.dimension;
    for (let row = 0; row < count; row++) {
      const point = Array.from(vectors.subarray(row * this.dimension, (row + 1) * this.dimension));
      this.index.addPoint(point, firstLabel + row);
      if (onProgress !== undefined && (row & 255) === 255) onProgress(row + 1, count);
    }
    onProgress?.(count, count);
  }

  /**
   * Loads an index written by `save`. The file is validated first (header, layout, every link in
   * range), so hnswlib never reads a damaged file; a bad one throws `IndexCorruptError`.
   */
  static load(
    file: string,
    dimension: number,
    ef: number,
    expected: Omit<HnswExpectation, 'dimension'> = {},
  ): HnswIndex {
    validateHnswFile(file, { ...expected, dimension });
    const index = new (hnswlib().HierarchicalNSW)('ip', dimension);
    index.readIndexSync(file);
    return new HnswIndex(index, dimension, ef);
  }

  save(file: string): void {
    this.index.writeIndexSync(file);
  }

  /** Sets the search-time candidate list size. */
  setEf(ef: number): void {
    if (!Number.isInteger(ef) || ef < 1)
      throw new RetrieverInputError('ef', `ef must be a positive integer, got ${ef}`);
    this.ef = ef;
    this.index.setEf(ef);
  }

  getEf(): number {
    return this.ef;
  }

  search(queries: Float32Array, k: number): ScoredIndex[][] {
    const results: ScoredIndex[][] = [];
    const count = Math.min(k, this.size);
    for (let q = 0; q < queries.length / this.dimension; q++) {
      if (count === 0) {
        results.push([]);
        continue;
      }
      const found = this.index.searchKnn(
        Array.from(queries.subarray(q * this.dimension, (q + 1) * this.dimension)),
        count,
      );
      const hits: ScoredIndex[] = [];
      for (let i = 0; i < found.neighbors.length; i++) {
        hits.push({ index: found.neighbors[i]!, score: 1 - found.distances[i]! });
      }
      hits.sort((a, b) => b.score - a.score || a.index - b.index);
      results.push(hits);
    }
    return results;
  }
}
