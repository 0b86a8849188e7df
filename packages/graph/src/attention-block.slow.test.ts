// A whole pre-norm attention + SwiGLU block in float64, every entry of every parameter checked by
// central differences (several thousand ORT runs): the slow, exhaustive companion of the per-op
// checks. Run: npx vitest run --config vitest.slow.config.ts

import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { checkGradients, randomProjection } from './gradient-check.js';
import type { Tensor } from './graph.js';
import { Graph } from './graph.js';
import type { HostValue } from './session.js';

const [B, T, C, H, D, F] = [2, 5, 8, 2, 4, 12]; // batch, seq, channels, heads, head dim, MLP width

describe('attention block gradient, exhaustive', () => {
  it('matches central differences on every parameter entry', async () => {
    const rng = createRng(77);
    const g = new Graph('block');
    const x = g.input('x', 'float64', [B, T, C]);
    const params: Record<string, [number, number] | [number]> = {
      norm: [C],
      wq: [C, H * D],
      wk: [C, H * D],
      wv: [C, H * D],
      wo: [H * D, C],
      gate: [C, F],
      up: [C, F],
      down: [F, C],
    };
    const p: Record<string, Tensor> = {};
    const feeds: Record<string, HostValue> = {
      x: {
        dtype: 'float64',
        shape: [B, T, C],
        data: Float64Array.from({ length: B * T * C }, () => rng.normal()),
      },
    };
    for (const [name, shape] of Object.entries(params)) {
      p[name] = g.input(name, 'float64', shape);
      const size = shape.reduce((a, b) => a * b, 1);
      feeds[name] = {
        dtype: 'float64',
        shape,
        data: Float64Array.from({ length: size }, () => 0.5 * rng.normal()),
      };
    }
    const rms = (h: Tensor) =>
      g.mul(
        g.div(h, g.sqrt(g.add(g.reduceMean(g.mul(h, h), [-1], true), g.scalar(1e-6, 'float64')))),
        p.norm!,
      );
    const heads = (t: Tensor) => g.transpose(g.reshape(t, [0, 0, H, D]), [0, 2, 1, 3]); // (B, H, T, D)
    const h = rms(x);
    const q = heads(g.matmul(h, p.wq!));
    const k = heads(g.matmul(h, p.wk!));
    const v = heads(g.matmul(h, p.wv!));
    const scores = g.div(g.matmul(q, g.transpose(k, [0, 1, 3, 2])), g.scalar(Math.sqrt(D), 'float64'));
    const causal = g.constant({
      dtype: 'bool',
      shape: [T, T],
      data: Uint8Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 : 0)),
    });
    const probs = g.softmax(g.where(causal, scores, g.scalar(-1e9, 'float64')), -1);
    const context = g.reshape(g.transpose(g.matmul(probs, v), [0, 2, 1, 3]), [0, 0, H * D]);
    const attended = g.add(x, g.matmul(context, p.wo!));
    const y = rms(attended);
    const gate = g.matmul(y, p.gate!);
    const out = g.add(attended, g.matmul(g.mul(g.mul(gate, g.sigmoid(gate)), g.matmul(y, p.up!)), p.down!));
    const loss = randomProjection(g, out, rng);
    const wrt = [x, ...Object.values(p)];
    const result = await checkGradients(g, loss, wrt, feeds, { samplesPerInput: 10_000, step: 1e-5, rng });
    const total = wrt.reduce((sum, t) => sum + (t.shape as number[]).reduce((a, b) => a * b, 1), 0);
    expect(result.checked).toBe(total);
    expect(result.failures).toEqual([]);
    console.log(`${result.checked} entries, max relative error ${result.maxRelativeError.toExponential(2)}`);
  });
});
