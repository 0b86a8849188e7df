import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { makeTokenBatch } from '../policy.js';
import { BigramPolicy } from './index.js';

describe('BigramPolicy', () => {
  it('has gradients that match central finite differences', async () => {
    const policy = new BigramPolicy(4, createRng(2));
    const batch = makeTokenBatch([
      [0, 1, 2, 3, 1],
      [2, 2, 0],
    ]);
    const rng = createRng(5);
    const n = batch.batchSize * batch.length;
    const upstream = {
      logprobs: Float32Array.from({ length: n }, () => rng.normal()),
      entropies: Float32Array.from({ length: n }, () => rng.normal()),
      values: Float32Array.from({ length: n }, () => rng.normal()),
    };
    const objective = async (): Promise<number> => {
      const out = await policy.forward(batch);
      let total = 0;
      for (let i = 0; i < n; i++) {
        total += upstream.logprobs[i]! * out.logprobs[i]! + upstream.entropies[i]! * out.entropies[i]!;
        total += upstream.values[i]! * out.values![i]!;
      }
      return total;
    };
    const grads = await policy.backward(batch, upstream);
    for (const [name, param] of policy.parameters) {
      for (const index of [0, 3, 5, param.length - 1].filter((i) => i < param.length)) {
        const saved = param[index]!;
        const h = 1e-2;
        param[index] = saved + h;
        const plus = await objective();
        param[index] = saved - h;
        const minus = await objective();
        param[index] = saved;
        expect(grads.get(name)![index]!).toBeCloseTo((plus - minus) / (2 * h), 3);
      }
    }
  });
});
