import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { gradients } from './autodiff.js';
import { GradientError, GraphBuildError } from './errors.js';
import { checkGradients } from './gradient-check.js';
import { Graph } from './graph.js';
import { pruneGraph } from './prune.js';
import type { HostValue } from './session.js';
import { createSession } from './session.js';

function normal(shape: number[], seed: number): HostValue {
  const rng = createRng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float64', shape, data: Float64Array.from({ length: size }, () => rng.normal()) };
}

describe('gradients with symbolic dims', () => {
  it('reduces broadcasts, slices and concats over (batch, seq) correctly', async () => {
    const g = new Graph('symbolic');
    const x = g.input('x', 'float64', ['batch', 'seq', 8]);
    const w = g.input('w', 'float64', [8]);
    const bias = g.input('bias', 'float64', [1, 'seq', 1]);
    const projection = g.input('projection', 'float64', ['batch', 'seq', 8], { differentiable: false });
    // rotate_half on the last axis, a mean over seq (symbolic count), a broadcast bias
    const h = g.mul(x, w);
    const rotated = g.concat([g.neg(g.slice(h, [4], [8], [-1])), g.slice(h, [0], [4], [-1])], -1);
    const centred = g.sub(rotated, g.reduceMean(rotated, [1], true));
    const both = g.concat([centred, g.slice(g.add(x, bias), [1], [Number.MAX_SAFE_INTEGER], [1])], 1); // (batch, 2·seq − 1, 8): an unknown dim
    const tail = g.slice(both, [0], [Number.MAX_SAFE_INTEGER], [1]);
    const loss = g.reduceSum(
      g.mul(
        g.slice(tail, [0], [Number.MAX_SAFE_INTEGER], [0]),
        g.concat([projection, g.slice(projection, [1], [Number.MAX_SAFE_INTEGER], [1])], 1),
      ),
      [0, 1, 2],
      false,
    );
    const feeds = {
      x: normal([3, 5, 8], 1),
      w: normal([8], 2),
      bias: normal([1, 5, 1], 3),
      projection: normal([3, 5, 8], 4),
    };
    const result = await checkGradients(g, loss, [x, w, bias], feeds, { samplesPerInput: 20 });
    expect(result.failures).toEqual([]);
    expect(result.checked).toBe(20 + 8 + 5);
  });
});

describe('Slice gradients clamp like ONNX Slice', () => {
  it.each([
    ['seq 5', 5],
    ['seq 2 (start -3 and end 4 clamp)', 2],
  ])('%s', async (_name, seq) => {
    const g = new Graph('clamp');
    const x = g.input('x', 'float64', ['batch', 'seq', 3]);
    const projection = g.input('projection', 'float64', ['batch', 'seq', 3], { differentiable: false });
    const tail = g.slice(x, [-3], [Number.MAX_SAFE_INTEGER], [1]);
    const head = g.slice(x, [1], [4], [1]);
    const loss = g.add(
      g.reduceSum(g.mul(tail, g.slice(projection, [-3], [Number.MAX_SAFE_INTEGER], [1])), [0, 1, 2], false),
      g.reduceSum(g.mul(g.exp(head), g.slice(projection, [1], [4], [1])), [0, 1, 2], false),
    );
    const feeds = { x: normal([2, seq, 3], 7), projection: normal([2, seq, 3], 8) };
    const result = await checkGradients(g, loss, [x], feeds, { samplesPerInput: 30 });
    expect(result.failures).toEqual([]);
    expect(result.checked).toBe(2 * seq * 3);
  });
});

describe('gradients', () => {
  it('computes a vector-Jacobian product from upstream gradient inputs', async () => {
    const g = new Graph('vjp');
    const x = g.input('x', 'float64', ['n', 3]);
    const y = g.mul(x, x); // dy/dx = 2x
    const upstream = g.input('dy', 'float64', ['n', 3], { differentiable: false });
    const [dx] = gradients(g, { outputs: [y], upstream: [upstream] }, [x]);
    const session = await createSession(g, { outputs: [dx!] });
    const out = await session.run({
      x: { dtype: 'float64', shape: [2, 3], data: Float64Array.from([1, 2, 3, 4, 5, 6]) },
      dy: { dtype: 'float64', shape: [2, 3], data: Float64Array.from([1, 1, 1, 0, 0, 2]) },
    });
    expect(Array.from(out[dx!.name]!.data as Float64Array)).toEqual([2, 4, 6, 0, 0, 24]);
    await session.release();
  });

  it('scatters a tied embedding lookup into the dense gradient instead of adding zeros', () => {
    const g = new Graph('tied');
    const table = g.input('table', 'float32', [50, 8]);
    const ids = g.input('ids', 'int64', ['batch', 'seq']);
    const logits = g.matmul(g.gather(table, ids, 0), g.transpose(table, [1, 0])); // (batch, seq, 50)
    const [grad] = gradients(g, { loss: g.reduceSum(logits, [0, 1, 2], false) }, [table]);
    expect(grad!.producer!.opType).toBe('ScatterND');
    const used = pruneGraph(g, [grad!]).nodes.map((n) => n.opType);
    expect(used).not.toContain('ConstantOfShape');
  });

  it('returns zeros for parameters the loss does not depend on', async () => {
    const g = new Graph('unused');
    const a = g.input('a', 'float32', [2]);
    const b = g.input('b', 'float32', [3]);
    const loss = g.reduceSum(g.mul(a, a), [0], false);
    const [, db] = gradients(g, { loss }, [a, b]);
    const session = await createSession(g, { outputs: [db!] });
    const out = await session.run({
      a: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) },
      b: { dtype: 'float32', shape: [3], data: Float32Array.from([1, 2, 3]) },
    });
    expect(Array.from(out[db!.name]!.data as Float32Array)).toEqual([0, 0, 0]);
  });

  it('rejects non-scalar losses, non-differentiable inputs and custom ops', () => {
    const g = new Graph('errors');
    const x = g.input('x', 'float32', [2]);
    const mask = g.input('mask', 'float32', [2], { differentiable: false });
    expect(() => gradients(g, { loss: x }, [x])).toThrow(GraphBuildError);
    const loss = g.reduceSum(g.mul(x, mask), [0], false);
    expect(() => gradients(g, { loss }, [mask])).toThrow(/non-differentiable/);
    const [fused] = g.custom({ opType: 'Gelu', inputs: [x], outputs: [{ dtype: 'float32', shape: [2] }] });
    const fusedLoss = g.reduceSum(fused!, [0], false);
    expect(() => gradients(g, { loss: fusedLoss }, [x])).toThrow(GradientError);
  });
});
