import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { tinyQwen2 } from '../testing/index.js';
import { OrtCritic } from './ort-critic.js';

const CONFIG: DecoderConfig = { ...tinyQwen2(40), tieWordEmbeddings: false, maxPositionEmbeddings: 64 };

describe('OrtCritic', () => {
  it('is causal, ignores padding, and has finite-difference-consistent gradients', async () => {
    const critic = await OrtCritic.fromPolicy(
      CONFIG,
      initWeights(CONFIG, createRng(1)),
      createRng(2),
      { threads: 1 },
      0.5,
    );
    expect(critic.parameters.has('lm_head.weight')).toBe(false);
    const long = {
      tokens: Int32Array.from([3, 5, 7, 9]),
      attentionMask: Uint8Array.from([1, 1, 1, 1]),
      batchSize: 1,
      length: 4,
    };
    const padded = {
      tokens: Int32Array.from([3, 5, 0, 0]),
      attentionMask: Uint8Array.from([1, 1, 0, 0]),
      batchSize: 1,
      length: 4,
    };
    const a = (await critic.forward(long)).values;
    const b = (await critic.forward(padded)).values;
    expect(b[0]).toBeCloseTo(a[0]!, 5);
    expect(b[1]).toBeCloseTo(a[1]!, 5);

    const upstream = Float32Array.from([0.5, -1, 2, 0.25]);
    const grads = await critic.backward(long, { values: upstream });
    const objective = async () =>
      (await critic.forward(long)).values.reduce((s, v, i) => s + v * upstream[i]!, 0);
    for (const name of ['score.weight', 'model.layers.0.mlp.up_proj.weight']) {
      const param = critic.parameters.get(name)!;
      const saved = param[1]!;
      const h = 1e-2;
      param[1] = saved + h;
      const plus = await objective();
      param[1] = saved - h;
      const minus = await objective();
      param[1] = saved;
      expect(grads.get(name)![1]).toBeCloseTo((plus - minus) / (2 * h), 2);
    }
    await critic.dispose();
  });
});
