// The rows each benchmark makes of its result: which numbers go where, and the recall target pick.

import type { HnswBenchResult, ServerBenchResult } from '@sr1/retriever';
import { describe, expect, it } from 'vitest';
import { BenchInvariantError } from './errors.js';
import {
  hnswRows,
  type LlamaCppSpeedResult,
  llamaCppRows,
  pickEf,
  serverRows,
  trainRows,
} from './perf-benchmarks.js';
import { toPerfRow } from './perf-report.js';

const curve = (recalls: number[]) =>
  recalls.map((recall, i) => ({ ef: 16 * 2 ** i, recall, qps: 1000 / (i + 1) }));

function hnswResult(faiss: boolean): HnswBenchResult {
  return {
    vectors: 13388,
    dimension: 512,
    queries: 2000,
    k: 10,
    m: 16,
    efConstruction: 200,
    sr1: { buildSeconds: 15.1, results: curve([0.8, 0.93, 0.954, 0.98]) },
    faiss: faiss
      ? { faiss: '1.7.3', threads: 1, build_seconds: 205.1, results: curve([0.85, 0.951, 0.968, 0.99]) }
      : null,
    ...(faiss ? {} : { faissError: 'ModuleNotFoundError' }),
  };
}

describe('pickEf', () => {
  it('takes the first ef reaching the target, else the best recall', () => {
    expect(pickEf(curve([0.8, 0.96, 0.99]), 0.95)).toEqual({
      row: { ef: 32, recall: 0.96, qps: 500 },
      reached: true,
    });
    expect(pickEf(curve([0.8, 0.9, 0.85]), 0.95)).toEqual({
      row: { ef: 32, recall: 0.9, qps: 500 },
      reached: false,
    });
    expect(() => pickEf([], 0.95)).toThrow(/expected at least one ef/);
    expect(() => pickEf([], 0.95)).toThrow(BenchInvariantError);
  });
});

describe('hnswRows', () => {
  it('compares each side at its own first ef with recall ≥ 0.95, and the build times', () => {
    const [search, build] = hnswRows(hnswResult(true), 'hashing');
    expect([search!.id, build!.id]).toEqual(['hnsw-query', 'hnsw-build']);
    expect(search!.sr1).toEqual({ value: 1000 / 3, unit: 'q/s' });
    expect(search!.peer).toEqual({ value: 500, unit: 'q/s' });
    expect(search!.better).toBe('higher');
    expect(search!.what).toContain('(sr1 ef 64: 0.954; FAISS ef 32: 0.951)');
    expect(search!.what).toContain(
      '13,388 × 512 hashing vectors, 2,000 questions, k 10, M 16, efConstruction 200',
    );
    expect(search!.what).toContain('FAISS 1.7.3 IndexHNSWFlat');
    expect(build!.sr1).toEqual({ value: 15.1, unit: 's' });
    expect(build!.peer).toEqual({ value: 205.1, unit: 's' });
    expect(build!.better).toBe('lower');
  });

  it('fails when the FAISS peer produced nothing', () => {
    expect(() => hnswRows(hnswResult(false), 'hashing')).toThrow(
      'the FAISS peer failed: ModuleNotFoundError',
    );
  });
});

describe('trainRows', () => {
  const result = (sr1: number, torch: number, forward: number, step: number) => ({
    parameters: 1_050_752,
    sr1TokensPerSecond: sr1,
    torchTokensPerSecond: torch,
    torchVersion: '2.13.0+cpu',
    sr1ForwardSeconds: forward,
    sr1ForwardBackwardSeconds: step,
    sr1PeakRssBytesPerParameter: 100,
  });
  // sr1 is best at 2 threads, PyTorch at 1; sr1's forward alone at 1
  const runs = [
    { threads: 1, result: result(3000, 2367, 0.186, 0.562) },
    { threads: 2, result: result(3644, 1900, 0.2, 0.4) },
  ];
  const setup = {
    configFile: 'apps/trainer/assets/base-model-config.json',
    modelType: 'qwen2',
    batchSize: 8,
    length: 256,
    steps: 5,
    peer: {
      python: 'python3',
      executable: '/root/.pyenv/versions/3.11.7/bin/python3.11',
      version: '2.13.0+cpu',
    },
  };

  it('compares each side at its own best thread count, and names both counts', () => {
    const rows = trainRows(runs, { ...setup, first: true });
    expect(rows.map((row) => row.id)).toEqual(['train-step', 'train-forward']);
    const row = toPerfRow(rows[0]!, { benchmark: 'train', command: '`c`', date: 'd', machine: 'm' });
    expect([row.sr1, row.peer, row.ratio]).toEqual(['3,644 tok/s', '2,367 tok/s', '1.54']);
    expect(rows[0]!.threads).toEqual({ sr1: 2, peer: 1, tried: [1, 2] });
    expect(rows[0]!.what).toContain('each side at its best of 1, 2 threads: sr1 2 threads, PyTorch 1 thread');
    expect(rows[0]!.what).toContain(
      'qwen2 model of 1.05M parameters (apps/trainer/assets/base-model-config.json)',
    );
    expect(rows[0]!.what).toContain('PyTorch 2.13.0+cpu (/root/.pyenv/versions/3.11.7/bin/python3.11');
    expect(rows[0]!.commandFlags).toEqual(['--torch-python', 'python3']);
    expect(rows[1]!.sr1).toEqual({ value: 0.186, unit: 's' });
    expect(rows[1]!.peer).toBeNull();
    expect(rows[1]!.threads).toEqual({ sr1: 1, tried: [1, 2] });
    expect(rows[1]!.what).toContain('took 0.562 s at that count, so a forward costs 33 % of a step');
  });

  it('gives a second peer its own id and no forward row', () => {
    const rows = trainRows(runs, { ...setup, first: false });
    expect(rows.map((row) => row.id)).toEqual(['train-step:python3']);
    expect(() => trainRows([], { ...setup, first: true })).toThrow(/no runs/);
    expect(() => trainRows([], { ...setup, first: true })).toThrow(BenchInvariantError);
  });
});

describe('llamaCppRows', () => {
  // A 2-thread sweep shaped like issue 15's measurement: llama.cpp decodes far faster with 1 thread.
  const result: LlamaCppSpeedResult = {
    parameters: 25_200_000,
    threads: [1, 2],
    hidden: 512,
    layers: 8,
    prefillLength: 256,
    decodeLength: 64,
    llamaCppVersion: '3.21.1',
    runs: [
      {
        threads: 1,
        sr1: { prefillTokensPerSecond: 1800, decodeTokensPerSecond: { 1: 139, 8: 500, 32: 1270 } },
        llamaCpp: { prefillTokensPerSecond: 1380, decodeTokensPerSecond: 174.6 },
      },
      {
        threads: 2,
        sr1: { prefillTokensPerSecond: 2553, decodeTokensPerSecond: { 1: 109, 8: 538, 32: 1027 } },
        llamaCpp: { prefillTokensPerSecond: 1158, decodeTokensPerSecond: 45.7 },
      },
    ],
  };

  it('makes prefill, decode-b1 and decode-bN with each side at its best count for that row', () => {
    const rows = llamaCppRows(result);
    expect(rows.map((row) => row.id)).toEqual(['prefill', 'decode-b1', 'decode-b8', 'decode-b32']);
    expect(rows.map((row) => [row.sr1.value, row.peer?.value])).toEqual([
      [2553, 1380],
      [139, 174.6],
      [538, 174.6],
      [1270, 174.6],
    ]);
    expect(rows.map((row) => row.threads)).toEqual([
      { sr1: 2, peer: 1, tried: [1, 2] },
      { sr1: 1, peer: 1, tried: [1, 2] },
      { sr1: 2, peer: 1, tried: [1, 2] },
      { sr1: 1, peer: 1, tried: [1, 2] },
    ]);
    expect(rows[0]!.what).toContain(
      'Prefill tokens/s, 1 × 256 tokens, random Qwen2-shaped model (25.2M parameters',
    );
    expect(rows[0]!.what).toContain('node-llama-cpp 3.21.1');
    expect(rows[0]!.what).toContain(
      'each side at its best of 1, 2 threads: sr1 2 threads, llama.cpp 1 thread',
    );
    expect(rows[1]!.what).toContain('sr1 1 thread, llama.cpp 1 thread');
    expect(rows[3]!.what).toContain("sr1 at batch 32 vs llama.cpp's one sequence");
    expect(rows[0]!.what).toContain('sr1 (OrtDecoderRunner) vs llama.cpp');
    expect(rows[1]!.what).toContain('same model and run, sr1 (OrtDecoderRunner)');
  });

  it("names sr1's engine path when the script reports it", () => {
    const engine = 'OrtDecoderRunner: weights as session initializers, fused opset-23 ops';
    const rows = llamaCppRows({ ...result, sr1Engine: engine });
    expect(rows[0]!.what).toContain(`sr1 (${engine}) vs llama.cpp`);
    for (const row of rows.slice(1)) expect(row.what).toContain(`same model and run, sr1 (${engine})`);
  });

  it('says when only one count was tried', () => {
    const one = { ...result, threads: [2], runs: [result.runs[1]!] };
    const [prefill] = llamaCppRows(one);
    expect(prefill!.what).toContain('sr1 2 threads, llama.cpp 2 threads (the only count tried)');
    expect(() => llamaCppRows({ ...result, runs: [] })).toThrow(/no runs/);
    expect(() => llamaCppRows({ ...result, runs: [] })).toThrow(BenchInvariantError);
  });
});

describe('serverRows', () => {
  it('makes one requests/s row per concurrency and one latency row for the batch, with no peer', () => {
    const result: ServerBenchResult = {
      load: [
        {
          clients: 1,
          requests: 2000,
          errors: 0,
          seconds: 10,
          requestsPerSecond: 200,
          p50Ms: 4.2,
          p99Ms: 9.87,
        },
        {
          clients: 64,
          requests: 10000,
          errors: 2,
          seconds: 50,
          requestsPerSecond: 188,
          p50Ms: 340,
          p99Ms: 850,
        },
      ],
      batch: { batch: 512, repeats: 10, errors: 0, p50Ms: 141.5, maxMs: 160.25, queriesPerSecond: 3618.4 },
    };
    const rows = serverRows(result, 'hybrid', 13388);
    expect(rows.map((row) => row.id)).toEqual([
      'server-qps-hybrid-c1',
      'server-qps-hybrid-c64',
      'server-batch-hybrid',
    ]);
    expect(rows.every((row) => row.peer === null)).toBe(true);
    expect(rows[0]!.what).toContain('hybrid search over 13,388 passages, 1 keep-alive client × 2,000');
    expect(rows[1]!.what).toContain(
      '64 keep-alive clients × 10,000 one-question requests (topk 3, scores), 2 errors',
    );
    expect(rows[1]!.what).toContain('p50 / p99 340.0 / 850.0 ms');
    expect(rows[1]!.sr1).toEqual({ value: 188, unit: 'req/s' });
    expect(rows[2]!.sr1).toEqual({ value: 141.5, unit: 'ms' });
    expect(rows[2]!.what).toContain('one 512-question request');
    expect(rows[2]!.what).toContain('3,618 questions/s at p50');
  });
});
