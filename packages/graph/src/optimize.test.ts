import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { gradients } from './autodiff.js';
import type { Tensor } from './graph.js';
import { Graph } from './graph.js';
import { valuesByName } from './onnx-model.js';
import { flattenGraph, optimizeGraph } from './optimize.js';
import { pruneGraph } from './prune.js';
import type { HostValue } from './session.js';
import { createSession } from './session.js';

function optimized(g: Graph, outputs?: readonly Tensor[]) {
  return optimizeGraph(flattenGraph(pruneGraph(g, outputs)), valuesByName(g));
}

describe('optimizeGraph', () => {
  it('cancels a transpose of a transpose and merges identical nodes', () => {
    const g = new Graph('o');
    const w = g.input('w', 'float32', [3, 4]);
    const back = g.transpose(g.transpose(w, [1, 0]), [1, 0]);
    const a = g.exp(back);
    const b = g.exp(back); // same op, same input → merged
    g.output(g.add(a, b), 'y');
    const { graph, stats } = optimized(g);
    expect(stats.foldedTransposes).toBe(1);
    expect(stats.mergedNodes).toBe(1);
    expect(graph.nodes.map((n) => n.opType)).toEqual(['Exp', 'Add']);
    expect(graph.nodes[0]!.inputs).toEqual(['w']);
  });

  it('folds Shape of static tensors and int64 arithmetic on the result', () => {
    const g = new Graph('s');
    const x = g.input('x', 'float32', [2, 5]);
    const shape = g.add(g.shapeOf(x, 1, 2), g.int64s([1])); // [6]
    g.output(g.reshape(g.concat([x, g.slice(x, [0], [1], [1])], 1), shape, [12]), 'y');
    const { graph, stats } = optimized(g);
    expect(stats.foldedShapes).toBe(2);
    expect(graph.nodes.some((n) => n.opType === 'Shape')).toBe(false);
  });

  it('leaves results unchanged on a gradient graph with symbolic dims', async () => {
    const g = new Graph('grad');
    const x = g.input('x', 'float32', ['batch', 6]);
    const w = g.input('w', 'float32', [4, 6]);
    const h = g.matmul(x, g.transpose(w, [1, 0])); // (batch, 4)
    const y = g.concat([g.neg(g.slice(h, [2], [4], [1])), g.slice(h, [0], [2], [1])], 1);
    const loss = g.reduceSum(g.mul(g.softmax(y, -1), h), [0, 1], false);
    const grads = gradients(g, { loss }, [x, w]);
    const rng = createRng(5);
    const feeds: Record<string, HostValue> = {
      x: { dtype: 'float32', shape: [3, 6], data: Float32Array.from({ length: 18 }, () => rng.normal()) },
      w: { dtype: 'float32', shape: [4, 6], data: Float32Array.from({ length: 24 }, () => rng.normal()) },
    };
    const plain = await createSession(g, { outputs: grads, optimize: false, optimization: 'disabled' });
    const fast = await createSession(g, { outputs: grads, optimize: true });
    const a = await plain.run(feeds);
    const b = await fast.run(feeds);
    for (const grad of grads) {
      const pa = Array.from(a[grad.name]!.data as Float32Array);
      const pb = Array.from(b[grad.name]!.data as Float32Array);
      pa.forEach((v, i) => {
        expect(pb[i]).toBeCloseTo(v, 5);
      });
    }
    const { stats } = optimized(g, grads);
    expect(stats.nodesAfter).toBeLessThan(stats.nodesBefore);
  });

  it('writes a linear layer weight gradient straight from one GEMM (no transpose copies)', async () => {
    const g = new Graph('linear');
    const x = g.input('x', 'float32', ['batch', 'seq', 4]);
    const w = g.input('w', 'float32', [3, 4]); // HF layout (out, in)
    const up = g.input('up', 'float32', ['batch', 'seq', 3], { differentiable: false });
    const y = g.matmul(x, g.transpose(w, [1, 0]));
    const [dw] = gradients(g, { outputs: [y], upstream: [up] }, [w]);
    const out = g.output(dw!, 'grad.w');
    const { graph } = optimized(g, [out]);
    expect(graph.nodes.filter((n) => n.opType === 'Transpose')).toHaveLength(1); // dYᵀ only, fused by ORT
    expect(graph.nodes.find((n) => n.outputs.includes('grad.w'))!.opType).toBe('MatMul');
    const rng = createRng(9);
    const feeds: Record<string, HostValue> = {
      x: { dtype: 'float32', shape: [2, 3, 4], data: Float32Array.from({ length: 24 }, () => rng.normal()) },
      w: { dtype: 'float32', shape: [3, 4], data: Float32Array.from({ length: 12 }, () => rng.normal()) },
      up: { dtype: 'float32', shape: [2, 3, 3], data: Float32Array.from({ length: 18 }, () => rng.normal()) },
    };
    const result = (await (await createSession(g, { outputs: [out] })).run(feeds))['grad.w']!
      .data as Float32Array;
    // dW[o, i] = Σ_bt up[bt, o] · x[bt, i]
    const xs = feeds.x!.data as Float32Array;
    const us = feeds.up!.data as Float32Array;
    for (let o = 0; o < 3; o++) {
      for (let i = 0; i < 4; i++) {
        let sum = 0;
        for (let r = 0; r < 6; r++) sum += us[r * 3 + o]! * xs[r * 4 + i]!;
        expect(result[o * 4 + i]).toBeCloseTo(sum, 4);
      }
    }
  });
});
