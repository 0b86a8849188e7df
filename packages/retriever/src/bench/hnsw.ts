// `bench hnsw`: HNSW (hnswlib-node, as the server uses it) against exact search and against the
// FAISS IndexHNSWFlat peer (bench/faiss_hnsw_peer.py, Debian python3-faiss) on the same vectors,
// queries, M, efConstruction, ef values and thread count (1 each).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RetrieverInputError } from '../errors.js';
import type { RetrievalIndex } from '../index-folder.js';
import { FlatIndex, HnswIndex } from '../vector-index.js';
import { readQuestions } from './data.js';

export interface HnswBenchOptions {
  dataDir: string;
  queries: number;
  m: number;
  efConstruction: number;
  efs: number[];
  k: number;
  python: string;
  repeats: number;
}

/** What `sr1-retriever bench hnsw` runs without flags. */
export const HNSW_BENCH_DEFAULTS: Omit<HnswBenchOptions, 'dataDir'> = {
  queries: 2000, // the first questions of the shared question files, in file order
  m: 16, // the server's index parameters (DEFAULT_HNSW_PARAMETERS)
  efConstruction: 200,
  efs: [10, 16, 24, 32, 48, 64, 128, 256], // from coarse to past the server's ef (128)
  k: 10, // recall@10 against exact search
  python: '/usr/bin/python3', // Debian's python3-faiss, the peer
  repeats: 3, // best of 3 per ef: the least disturbed by other work on the machine
};

export interface HnswBenchResult {
  vectors: number;
  dimension: number;
  queries: number;
  k: number;
  m: number;
  efConstruction: number;
  sr1: { buildSeconds: number; results: { ef: number; recall: number; qps: number }[] };
  faiss: {
    faiss: string;
    threads: number;
    build_seconds: number;
    results: { ef: number; recall: number; qps: number }[];
  } | null;
  faissError?: string;
}

function bytes(array: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

export async function benchHnsw(index: RetrievalIndex, options: HnswBenchOptions): Promise<HnswBenchResult> {
  if (index.encoder === undefined || index.manifest.dense === null)
    throw new RetrieverInputError('index', `${index.dir} has no dense part`);
  const dimension = index.encoder.dimension;
  const raw = readFileSync(join(index.dir, 'dense', 'vectors.f32'));
  const vectors = new Float32Array(raw.length / 4);
  bytes(vectors).set(raw);
  const questions = readQuestions(options.dataDir).slice(0, options.queries);
  const queries = await index.encoder.encode(
    questions.map((question) => question.question),
    'query',
  );
  const truthLists = new FlatIndex(vectors, dimension).search(queries, options.k);
  const truth = new Int32Array(questions.length * options.k).fill(-1);
  truthLists.forEach((hits, q) => {
    hits.forEach((hit, rank) => {
      truth[q * options.k + rank] = hit.index;
    });
  });

  const started = performance.now();
  const hnsw = HnswIndex.build(vectors, dimension, { m: options.m, efConstruction: options.efConstruction });
  const buildSeconds = (performance.now() - started) / 1000;
  const results: { ef: number; recall: number; qps: number }[] = [];
  for (const ef of options.efs) {
    hnsw.setEf(ef);
    let best = Number.POSITIVE_INFINITY;
    let found = hnsw.search(queries, options.k);
    for (let repeat = 0; repeat < options.repeats; repeat++) {
      const start = performance.now();
      found = hnsw.search(queries, options.k);
      best = Math.min(best, (performance.now() - start) / 1000);
    }
    let hits = 0;
    found.forEach((list, q) => {
      const gold = new Set(truth.subarray(q * options.k, (q + 1) * options.k));
      hits += list.filter((hit) => gold.has(hit.index)).length;
    });
    results.push({ ef, recall: hits / (options.k * questions.length), qps: questions.length / best });
  }

  const dir = mkdtempSync(join(tmpdir(), 'sr1-hnsw-bench-'));
  let faiss: HnswBenchResult['faiss'] = null;
  let faissError: string | undefined;
  try {
    writeFileSync(join(dir, 'vectors.f32'), bytes(vectors));
    writeFileSync(join(dir, 'queries.f32'), bytes(queries));
    writeFileSync(join(dir, 'truth.i32'), bytes(truth));
    const peer = fileURLToPath(new URL('../bench/faiss_hnsw_peer.py', import.meta.url));
    const output = execFileSync(
      options.python,
      [
        peer,
        ...[
          '--vectors',
          join(dir, 'vectors.f32'),
          '--queries',
          join(dir, 'queries.f32'),
          '--truth',
          join(dir, 'truth.i32'),
        ],
        ...['--dim', String(dimension), '--k', String(options.k), '--m', String(options.m)],
        ...[
          '--ef-construction',
          String(options.efConstruction),
          '--efs',
          options.efs.join(','),
          '--threads',
          '1',
        ],
        ...['--repeats', String(options.repeats)],
      ],
      {
        env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' },
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      },
    );
    faiss = JSON.parse(output.trim().split('\n').pop()!) as NonNullable<HnswBenchResult['faiss']>;
  } catch (error) {
    faissError = (error as Error).message;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    vectors: vectors.length / dimension,
    dimension,
    queries: questions.length,
    k: options.k,
    m: options.m,
    efConstruction: options.efConstruction,
    sr1: { buildSeconds, results },
    faiss,
    ...(faissError !== undefined ? { faissError } : {}),
  };
}
