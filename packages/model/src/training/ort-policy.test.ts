import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { referenceLogProbs } from '../reference/reference-decoder.js';
import { tinyTrainQwen2, tokenBatch } from '../testing/index.js';
import { OrtTrainablePolicy } from './ort-policy.js';

const CONFIG: DecoderConfig = tinyTrainQwen2();

describe('OrtTrainablePolicy', () => {
  it('matches the float64 reference log-probs on a right-padded batch', async () => {
    const weights = initWeights(CONFIG, createRng(3));
    // A larger init scale makes the distribution far from uniform, so errors would show.
    for (const tensor of weights.values()) for (let i = 0; i < tensor.data.length; i++) tensor.data[i]! *= 10;
    const policy = await OrtTrainablePolicy.create(CONFIG, weights, { threads: 1 });
    const rows = [
      [1, 5, 9, 13, 17, 21],
      [2, 4, 8],
    ];
    const out = await policy.forward(tokenBatch(rows, 6));
    rows.forEach((row, b) => {
      const expected = referenceLogProbs(CONFIG, weights, row);
      for (let t = 1; t < row.length; t++) {
        expect(out.logprobs[b * 6 + t]).toBeCloseTo(expected.logprobs[t]!, 4);
        expect(out.entropies[b * 6 + t]).toBeCloseTo(expected.entropies[t - 1]!, 4);
      }
      expect(out.logprobs[b * 6]).toBe(0);
    });
    await policy.dispose();
  });

  it('returns gradients that move log-probs the way a finite difference says', async () => {
    const weights = initWeights(CONFIG, createRng(4));
    const policy = await OrtTrainablePolicy.create(CONFIG, weights, { threads: 1 });
    const batch = tokenBatch([[3, 7, 11, 2]], 4);
    const upstream = Float32Array.from([0, 1, -0.5, 2]);
    const objective = async () => {
      const out = await policy.forward(batch);
      return out.logprobs.reduce((sum, lp, i) => sum + lp * upstream[i]!, 0);
    };
    const grads = await policy.backward(batch, { logprobs: upstream });
    const name = 'model.layers.1.mlp.down_proj.weight';
    const param = policy.parameters.get(name)!;
    const index = 5;
    const h = 1e-2;
    const saved = param[index]!;
    param[index] = saved + h;
    const plus = await objective();
    param[index] = saved - h;
    const minus = await objective();
    param[index] = saved;
    expect(grads.get(name)![index]).toBeCloseTo((plus - minus) / (2 * h), 2);
    expect(grads.size).toBe(policy.parameters.size);
    await policy.dispose();
  });

  it('counts in its ledger every weight fed and every gradient fetched', async () => {
    const weights = initWeights(CONFIG, createRng(5));
    const policy = await OrtTrainablePolicy.create(CONFIG, weights, { threads: 1 });
    const B = 2;
    const T = 5;
    const batch = tokenBatch(
      [
        [3, 7, 11, 2, 9],
        [4, 4],
      ],
      T,
    );
    await policy.forwardBackward(batch, { logprobs: new Float32Array(B * T).fill(1) });
    let weightBytes = 0;
    for (const tensor of weights.values()) weightBytes += tensor.data.byteLength;
    const S = T - 1; // the shifted graph's length
    // in: weights, ids, targets, mask, positions (B, S) int64, grad_logprobs (B, S) float32;
    // out: log-probs and entropies (B, S) float32, one gradient per weight
    expect(policy.ledger).toEqual({
      runs: 1,
      bytesIn: weightBytes + 4 * B * S * 8 + B * S * 4,
      bytesOut: 2 * B * S * 4 + weightBytes,
    });
    await policy.forward(batch);
    expect(policy.ledger.runs).toBe(2);
    expect(policy.ledger.bytesIn).toBe(2 * weightBytes + 8 * B * S * 8 + B * S * 4);
    policy.resetLedger();
    expect(policy.ledger).toEqual({ runs: 0, bytesIn: 0, bytesOut: 0 });
    await policy.dispose();
  });
});
