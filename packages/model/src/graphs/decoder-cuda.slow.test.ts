// CUDA parity of the decoder graphs: runs only where onnxruntime-node's CUDA provider libraries
// are installed (see @sr1/graph's README); elsewhere it is skipped. Not yet run on a GPU.
// Run: npx vitest run --config vitest.slow.config.ts src/graphs/decoder-cuda.slow.test.ts

import { createRng } from '@sr1/core';
import { missingCudaLibraries } from '@sr1/graph';
import { describe, expect, it } from 'vitest';
import type { WeightMap } from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import { tinyLlama } from '../testing/index.js';
import { OrtDecoderRunner } from './ort-decoder-runner.js';

describe.skipIf(missingCudaLibraries().length > 0)('decoder on CUDA', () => {
  it('prefill and decode logits match the CPU runner', async () => {
    const config = tinyLlama();
    const rng = createRng(31);
    const weights: WeightMap = new Map();
    for (const [name, spec] of expectedWeights(config)) {
      const size = spec.shape.reduce((a, b) => a * b, 1);
      weights.set(name, {
        shape: spec.shape,
        data: Float32Array.from({ length: size }, () => 0.3 * rng.normal()),
      });
    }
    const cpu = await OrtDecoderRunner.create(config, weights, { device: 'cpu' });
    const cuda = await OrtDecoderRunner.create(config, weights, { device: 'cuda' });
    const ids = BigInt64Array.from({ length: 6 }, () => BigInt(rng.int(config.vocabSize)));
    const inputs = {
      inputIds: ids,
      attentionMask: new BigInt64Array(6).fill(1n),
      positionIds: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n]),
      batchSize: 1,
      newLength: 6,
    };
    const a = await cpu.prefill(inputs);
    const b = await cuda.prefill(inputs);
    let maxDiff = 0;
    for (let i = 0; i < a.logits.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(a.logits[i]! - b.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
    const step = {
      inputIds: BigInt64Array.of(3n),
      attentionMask: new BigInt64Array(7).fill(1n),
      positionIds: BigInt64Array.of(6n),
      batchSize: 1,
      newLength: 1,
    };
    const c = await cpu.decode(step, a.cache);
    const d = await cuda.decode(step, b.cache);
    maxDiff = 0;
    for (let i = 0; i < c.logits.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(c.logits[i]! - d.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-3);
    await cpu.dispose();
    await cuda.dispose();
  });
});
