// The engine's learning smoke test: a tiny Qwen2 on onnxruntime-node overfits a tiny SFT set to
// near-zero loss (seed 5), through the same SFT loop and AdamW the CLI uses.

import { createRng } from '@sr1/core';
import { initWeights, OrtTrainablePolicy } from '@sr1/model';
import { type SftStepMetrics, trainSft } from '@sr1/train';
import { describe, expect, it } from 'vitest';
import { TINY_CONFIG } from './testing/index.js';

describe('SFT on the engine', () => {
  it('overfits four sequences to near-zero loss (seed 5)', async () => {
    const config = { ...TINY_CONFIG, vocabSize: 64, eosTokenIds: [0], maxPositionEmbeddings: 32 };
    const policy = await OrtTrainablePolicy.create(config, initWeights(config, createRng(5)), { threads: 1 });
    const rng = createRng(6);
    const examples = Array.from({ length: 4 }, () => {
      const tokens = Array.from({ length: 12 }, () => 1 + rng.int(63));
      return { tokens, lossMask: tokens.map((_, t) => (t >= 4 ? 1 : 0)), truncated: 0 };
    });
    const losses: SftStepMetrics[] = [];
    await trainSft(
      policy,
      examples,
      {
        steps: 120,
        batchSize: 4,
        microBatchSize: 4,
        lr: 1e-2,
        schedule: 'constant',
        warmupRatio: 0,
        maxGradNorm: 1,
        optimizer: { weightDecay: 0 },
        seed: 5,
      },
      undefined,
      { onStep: (m) => void losses.push(m) },
    );
    expect(losses[0]!.loss).toBeGreaterThan(3.5); // ≈ ln 64 at initialisation
    expect(losses.at(-1)!.loss).toBeLessThan(0.05);
    await policy.dispose();
  });
});
