import { describe, expect, it } from 'vitest';
import { GraphBuildError, GraphShapeError } from './errors.js';
import { Graph } from './graph.js';
import { decodeModel, serializeGraph } from './onnx-model.js';
import { pruneGraph } from './prune.js';
import { createSession } from './session.js';
import { addDims, broadcastShapes, canonicalDim } from './shape.js';

describe('symbolic shapes', () => {
  it.each([
    [
      [['batch', 'seq', 8], [8]],
      ['batch', 'seq', 8],
    ],
    [
      [
        ['batch', 1, 'seq'],
        [4, 1],
      ],
      ['batch', 4, 'seq'],
    ],
    [
      [
        [1, 'past+new'],
        ['batch', 'new+past'],
      ],
      ['batch', 'new+past'],
    ],
    [[['batch'], ['seq']], undefined],
    [[[3], [4]], undefined],
  ] as const)('broadcast %j → %j', (shapes, expected) => {
    expect(broadcastShapes(shapes as never)).toEqual(expected);
  });

  it('adds and canonicalises dims', () => {
    expect(addDims('past', 'new')).toBe('new+past');
    expect(addDims(2, 3)).toBe(5);
    expect(addDims('seq', 1)).toBe('seq+1');
    expect(canonicalDim('past + new')).toBe('new+past');
  });
});

describe('build-time shape checking', () => {
  it('names the op and the shapes on a matmul mismatch', () => {
    const g = new Graph('m');
    const a = g.input('a', 'float32', ['batch', 'seq', 32]);
    const w = g.input('w', 'float32', [16, 8]);
    expect(() => g.matmul(a, w)).toThrow(GraphShapeError);
    expect(() => g.matmul(a, w)).toThrow(
      /MatMul .*inner dimensions differ \(32 vs 16\).*\(batch, seq, 32\) and \(16, 8\)/,
    );
  });

  it('rejects broadcasting two different symbols, and mixed dtypes', () => {
    const g = new Graph('b');
    const a = g.input('a', 'float32', ['batch', 4]);
    const b = g.input('b', 'float32', ['seq', 4]);
    const c = g.input('c', 'float64', [4]);
    expect(() => g.add(a, b)).toThrow(/Add .*do not broadcast/);
    expect(() => g.mul(a, c)).toThrow(/dtypes differ/);
  });

  it('infers reshape, concat, slice, gather and transpose shapes', () => {
    const g = new Graph('s');
    const x = g.input('x', 'float32', ['batch', 'seq', 32]);
    const heads = g.reshape(x, [0, 0, 4, 8]);
    expect(heads.shape).toEqual(['batch', 'seq', 4, 8]);
    expect(g.transpose(heads, [0, 2, 1, 3]).shape).toEqual(['batch', 4, 'seq', 8]);
    expect(g.reshape(heads, [0, 0, -1]).shape).toEqual(['batch', 'seq', 32]);
    const past = g.input('past', 'float32', ['batch', 4, 'past', 8]);
    expect(g.concat([past, g.transpose(heads, [0, 2, 1, 3])], 2).shape).toEqual(['batch', 4, 'past+seq', 8]);
    expect(g.slice(x, [-1], [Number.MAX_SAFE_INTEGER], [1]).shape).toEqual(['batch', 1, 32]);
    const table = g.input('table', 'float32', [64, 32]);
    const ids = g.input('ids', 'int64', ['batch', 'seq']);
    expect(g.gather(table, ids).shape).toEqual(['batch', 'seq', 32]);
    expect(() => g.reshape(x, [0, 5, 7])).toThrow(GraphShapeError);
    expect(() => g.transpose(x, [0, 0, 1])).toThrow(/not a permutation/);
    expect(() => g.gather(table, x)).toThrow(/indices must be/);
  });

  it('refuses tensors from another graph and duplicate names', () => {
    const g1 = new Graph('one');
    const g2 = new Graph('two');
    const a = g1.input('a', 'float32', [2]);
    expect(() => g2.neg(a)).toThrow(GraphBuildError);
    expect(() => g1.input('a', 'float32', [2])).toThrow(/already used/);
  });
});

describe('serialisation', () => {
  it('writes weights as inputs, constants as initializers, and prunes dead nodes', () => {
    const g = new Graph('ser');
    const x = g.input('x', 'float32', ['batch', 4]);
    const w = g.input('w', 'float32', [4, 2]);
    const unused = g.input('unused', 'float32', [3]);
    g.neg(unused); // dead
    const y = g.add(g.matmul(x, w), g.scalar(1, 'float32'));
    g.output(y, 'y');
    const model = decodeModel(serializeGraph(g)) as {
      opsetImport: { version: number }[];
      graph: {
        input: { name: string }[];
        initializer: { name: string }[];
        node: { opType: string }[];
        output: { name: string }[];
      };
    };
    expect(model.graph.input.map((i) => i.name)).toEqual(['x', 'w']);
    expect(model.graph.initializer).toHaveLength(1);
    expect(model.graph.node.map((n) => n.opType)).toEqual(['MatMul', 'Add']); // output renamed in place, no Identity copy
    expect(model.graph.output.map((o) => o.name)).toEqual(['y']);
    expect(model.opsetImport[0]!.version).toBe(21);
    expect(pruneGraph(g).nodes).toHaveLength(2);
  });

  it('round-trips through ORT with symbolic batch', async () => {
    const g = new Graph('run');
    const x = g.input('x', 'float32', ['batch', 2]);
    const w = g.input('w', 'float32', [2, 2]);
    g.output(g.matmul(x, w), 'y');
    const session = await createSession(g, { threads: 1 });
    for (const batch of [1, 3]) {
      const out = await session.run({
        x: {
          dtype: 'float32',
          shape: [batch, 2],
          data: Float32Array.from({ length: batch * 2 }, (_, i) => i),
        },
        w: { dtype: 'float32', shape: [2, 2], data: Float32Array.from([1, 0, 0, 2]) },
      });
      expect(out.y!.shape).toEqual([batch, 2]);
      expect(Array.from(out.y!.data as Float32Array).slice(0, 2)).toEqual([0, 2]);
    }
    await session.release();
  });
});

describe('error locations', () => {
  it('names the graph and scope of a failing op', () => {
    const g = new Graph('decoder');
    const a = g.input('a', 'float32', [2, 3]);
    const b = g.input('b', 'float32', [4, 5]);
    expect(() => g.scope('layer3', () => g.matmul(a, b))).toThrow(/MatMul 'decoder\/layer3#0'/);
  });
});
