// The ledger benchmark's rows and ratios, and one real measurement on a tiny model whose bytes are
// known from the tensor sizes.

import { describe, expect, it } from 'vitest';
import {
  BENCH_MODEL_NAME,
  decodeRatios,
  decodeRow,
  LEDGER_PERF_SIZES,
  type LedgerPerfSizes,
  type LedgerResult,
  ledgerRows,
  measureLedger,
  QWEN25_05B,
  trainRatio,
} from './ledger-perf.js';
import { toPerfRow } from './perf-report.js';

const RESULT: LedgerResult = {
  modelName: 'Qwen2.5-0.5B shape',
  parameters: 494_032_768,
  weightBytes: 1_976_131_072,
  decode: {
    batch: 32,
    promptLength: 16,
    steps: 16,
    bytesIn: 12_564,
    bytesOut: 6_400,
    peerSteps: 2,
    peerBytes: 4_200_000_000,
  },
  train: { microBatches: 1, batch: 1, length: 32, bytes: 3_952_300_000 },
};

describe('ledger rows', () => {
  it('divides bytes per decode step and per optimizer step by the weights and by weights + AdamW state', () => {
    const ratios = decodeRatios(RESULT);
    expect(ratios.sr1).toBeCloseTo((12_564 + 6_400) / 16 / 1_976_131_072, 15);
    expect(ratios.peer).toBeCloseTo(4_200_000_000 / 2 / 1_976_131_072, 12);
    expect(trainRatio(RESULT)).toBeCloseTo(3_952_300_000 / (3 * 1_976_131_072), 12);
  });

  it('makes the ledger-decode and ledger-train rows, the step engine named in the text', () => {
    const rows = ledgerRows(RESULT);
    expect(rows.map((row) => row.id)).toEqual(['ledger-decode', 'ledger-train']);
    const [decode, train] = rows.map((row) =>
      toPerfRow(row, { benchmark: 'ledger', command: '`x`', date: 'd', machine: 'm' }),
    );
    expect(decode!.sr1).toBe('0.000000600 × weights');
    expect(decode!.peer).toBe('—');
    expect(decode!.what).toContain(
      'batch 32, prompt 16 tokens: 1,185 B/step (12,564 B in, 6,400 B out per run)',
    );
    expect(decode!.what).toContain('moves 1.063 × weights per decode step (2 steps measured)');
    expect(decode!.what).toContain('494,032,768 parameters, 1,976.1 MB of float32 weights');
    expect(train!.sr1).toBe('0.667 × (weights + AdamW state)');
    expect(train!.what).toContain('1 micro-batch of 1 × 32 tokens');
    expect(train!.what).toContain('3,952.3 MB per step');
  });

  it('names another model in a decode row of its own id', () => {
    const row = decodeRow(
      { ...RESULT, modelName: BENCH_MODEL_NAME, parameters: 25_200_000 },
      'ledger-decode-25m',
    );
    expect(row.id).toBe('ledger-decode-25m');
    expect(row.what).toContain(
      "on the llama-cpp benchmark's random Qwen2 (hidden 512, 8 layers, vocab 2048) (25,200,000 parameters",
    );
    expect(row.sr1).toEqual({ value: decodeRatios(RESULT).sr1, unit: '× weights' });
  });

  it('runs the full size on the Qwen2.5-0.5B shape (494 M parameters) at batch 32', () => {
    expect(LEDGER_PERF_SIZES.full.model.config).toBe(QWEN25_05B);
    expect(LEDGER_PERF_SIZES.full.decode.batch).toBe(32);
    expect(QWEN25_05B.numHiddenLayers).toBe(24);
    expect(QWEN25_05B.hiddenSize).toBe(896);
    expect(QWEN25_05B.vocabSize).toBe(151936);
  });
});

describe('measureLedger on a tiny model', () => {
  it('counts the prompts in and the tokens out for the loop, weights per step for the others', async () => {
    const sizes: LedgerPerfSizes = {
      model: {
        name: 'tiny',
        config: {
          ...QWEN25_05B,
          vocabSize: 64,
          hiddenSize: 16,
          intermediateSize: 24,
          numHiddenLayers: 2,
          numAttentionHeads: 4,
          numKeyValueHeads: 2,
          headDim: 4,
          maxPositionEmbeddings: 128,
          eosTokenIds: [63],
        },
      },
      decode: { batch: 3, promptLength: 5, steps: 4, peerSteps: 2 },
      train: { microBatches: 2, batch: 1, length: 6 },
    };
    const result = await measureLedger(sizes, { threads: 1, log: () => {} });
    const { batch: B, promptLength: T } = sizes.decode;
    expect(result.decode.steps).toBe(4); // no EOS ids: every row runs its budget
    // ids, mask, positions (B, T) int64; max_new, row budgets, temperature, one stop id
    expect(result.decode.bytesIn).toBe(3 * B * T * 8 + 8 + B * 8 + 4 + 8);
    // tokens (B, steps) int64, log-probs (B, steps) float32, lengths (B) int64
    expect(result.decode.bytesOut).toBe(B * 4 * 12 + B * 8);
    expect(result.decode.peerBytes).toBeGreaterThan(2 * result.weightBytes); // weights fed at each step
    // per micro-batch: weights in and gradients out, plus ids, masks and log-probs
    expect(result.train.bytes).toBeGreaterThan(4 * result.weightBytes);
    expect(result.train.bytes).toBeLessThan(4 * result.weightBytes + 2000);
  });
});
