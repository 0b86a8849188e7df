// Every gradient rule checked against central finite differences in float64, through ORT.

import type { Rng } from '@sr1/core';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { checkGradients, randomProjection } from './gradient-check.js';
import { GRADIENT_RULES } from './gradient-rules.js';
import type { OpType, Tensor } from './graph.js';
import { Graph } from './graph.js';
import type { HostValue } from './session.js';

type Init = 'normal' | 'positive' | 'ids';
interface Case {
  name: string;
  /** Ops whose rule this case exercises (the registry coverage check reads them). */
  covers: OpType[];
  inputs: Record<string, { shape: number[]; init?: Init; range?: number }>;
  build: (g: Graph, x: Record<string, Tensor>) => Tensor;
  embeddingGradient?: 'scatter' | 'onehot';
  /** Looser check for paths through float32 (central differences are then noise-limited). */
  tolerance?: { step: number; relative: number };
}

const cases: Case[] = [
  {
    name: 'Add broadcast',
    covers: ['Add'],
    inputs: { a: { shape: [2, 3] }, b: { shape: [3] } },
    build: (g, x) => g.add(x.a!, x.b!),
  },
  {
    name: 'Sub broadcast',
    covers: ['Sub'],
    inputs: { a: { shape: [2, 1, 3] }, b: { shape: [4, 1] } },
    build: (g, x) => g.sub(x.a!, x.b!),
  },
  {
    name: 'Mul broadcast',
    covers: ['Mul'],
    inputs: { a: { shape: [2, 3] }, b: { shape: [2, 1] } },
    build: (g, x) => g.mul(x.a!, x.b!),
  },
  {
    name: 'Div',
    covers: ['Div'],
    inputs: { a: { shape: [2, 3] }, b: { shape: [3], init: 'positive' } },
    build: (g, x) => g.div(x.a!, x.b!),
  },
  {
    name: 'Pow',
    covers: ['Pow'],
    inputs: { a: { shape: [2, 3], init: 'positive' }, b: { shape: [3] } },
    build: (g, x) => g.pow(x.a!, x.b!),
  },
  { name: 'Neg', covers: ['Neg'], inputs: { a: { shape: [4] } }, build: (g, x) => g.neg(x.a!) },
  {
    name: 'Sqrt',
    covers: ['Sqrt'],
    inputs: { a: { shape: [4], init: 'positive' } },
    build: (g, x) => g.sqrt(x.a!),
  },
  {
    name: 'Reciprocal',
    covers: ['Reciprocal'],
    inputs: { a: { shape: [4], init: 'positive' } },
    build: (g, x) => g.reciprocal(x.a!),
  },
  { name: 'Exp', covers: ['Exp'], inputs: { a: { shape: [4] } }, build: (g, x) => g.exp(x.a!) },
  {
    name: 'Log',
    covers: ['Log'],
    inputs: { a: { shape: [4], init: 'positive' } },
    build: (g, x) => g.log(x.a!),
  },
  { name: 'Sigmoid', covers: ['Sigmoid'], inputs: { a: { shape: [4] } }, build: (g, x) => g.sigmoid(x.a!) },
  { name: 'Tanh', covers: ['Tanh'], inputs: { a: { shape: [4] } }, build: (g, x) => g.tanh(x.a!) },
  { name: 'Cos', covers: ['Cos'], inputs: { a: { shape: [4] } }, build: (g, x) => g.cos(x.a!) },
  { name: 'Sin', covers: ['Sin'], inputs: { a: { shape: [4] } }, build: (g, x) => g.sin(x.a!) },
  {
    name: 'Identity',
    covers: ['Identity'],
    inputs: { a: { shape: [4] } },
    build: (g, x) => g.identity(x.a!),
  },
  {
    name: 'MatMul 2-D',
    covers: ['MatMul'],
    inputs: { a: { shape: [3, 4] }, b: { shape: [4, 2] } },
    build: (g, x) => g.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul batched activations × 2-D weight (folded GEMM)',
    covers: ['MatMul'],
    inputs: { a: { shape: [2, 3, 4] }, b: { shape: [4, 5] } },
    build: (g, x) => g.matmul(x.a!, x.b!),
  },
  {
    name: 'MatMul batched, broadcast batch',
    covers: ['MatMul'],
    inputs: { a: { shape: [2, 3, 3, 4] }, b: { shape: [3, 4, 2] } },
    build: (g, x) => g.matmul(x.a!, x.b!),
  },
  {
    name: 'Softmax',
    covers: ['Softmax'],
    inputs: { a: { shape: [2, 5] } },
    build: (g, x) => g.softmax(x.a!, -1),
  },
  {
    name: 'Softmax axis 0',
    covers: ['Softmax'],
    inputs: { a: { shape: [3, 2] } },
    build: (g, x) => g.softmax(x.a!, 0),
  },
  {
    name: 'LogSoftmax',
    covers: ['LogSoftmax'],
    inputs: { a: { shape: [2, 5] } },
    build: (g, x) => g.logSoftmax(x.a!, -1),
  },
  {
    name: 'ReduceSum keepdims',
    covers: ['ReduceSum'],
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, x) => g.reduceSum(x.a!, [1], true),
  },
  {
    name: 'ReduceSum no keepdims',
    covers: ['ReduceSum'],
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, x) => g.reduceSum(x.a!, [0, 2], false),
  },
  {
    name: 'ReduceMean',
    covers: ['ReduceMean'],
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, x) => g.reduceMean(x.a!, [-1], true),
  },
  {
    name: 'ReduceMax',
    covers: ['ReduceMax'],
    inputs: { a: { shape: [3, 4] } },
    build: (g, x) => g.reduceMax(x.a!, [1], false),
  },
  {
    name: 'Reshape',
    covers: ['Reshape'],
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, x) => g.reshape(x.a!, [0, -1]),
  },
  {
    name: 'Transpose',
    covers: ['Transpose'],
    inputs: { a: { shape: [2, 3, 4] } },
    build: (g, x) => g.transpose(x.a!, [2, 0, 1]),
  },
  {
    name: 'Slice (rotate_half halves)',
    covers: ['Slice'],
    inputs: { a: { shape: [2, 3, 8] } },
    build: (g, x) =>
      g.mul(
        g.slice(x.a!, [1, 4], [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER], [1, -1]),
        g.slice(x.a!, [1, 0], [3, 4], [1, 2]),
      ),
  },
  {
    name: 'Slice negative start',
    covers: ['Slice'],
    inputs: { a: { shape: [2, 5] } },
    build: (g, x) => g.slice(x.a!, [-2], [Number.MAX_SAFE_INTEGER], [1]),
  },
  {
    name: 'Concat (rotate_half)',
    covers: ['Concat', 'Neg', 'Slice'],
    inputs: { a: { shape: [2, 6] } },
    build: (g, x) => g.concat([g.neg(g.slice(x.a!, [3], [6], [1])), g.slice(x.a!, [0], [3], [1])], -1),
  },
  {
    name: 'Concat two inputs',
    covers: ['Concat'],
    inputs: { a: { shape: [2, 3] }, b: { shape: [1, 3] } },
    build: (g, x) => g.concat([x.a!, x.b!], 0),
  },
  {
    name: 'Expand',
    covers: ['Expand'],
    inputs: { a: { shape: [3, 1] } },
    build: (g, x) => g.expand(x.a!, [2, 3, 4]),
  },
  {
    name: 'Unsqueeze',
    covers: ['Unsqueeze'],
    inputs: { a: { shape: [3, 2] } },
    build: (g, x) => g.unsqueeze(x.a!, [0, 2]),
  },
  {
    name: 'Squeeze',
    covers: ['Squeeze'],
    inputs: { a: { shape: [3, 1, 2] } },
    build: (g, x) => g.squeeze(x.a!, [1]),
  },
  {
    name: 'Where (mask)',
    covers: ['Where', 'Greater'],
    inputs: { a: { shape: [2, 4] }, b: { shape: [4] } },
    build: (g, x) => g.where(g.greater(x.a!, g.scalar(0, 'float64')), x.a!, x.b!),
  },
  {
    name: 'Cast float64→float32→float64 (float32 precision: step 1e-2, rtol 1e-4)',
    covers: ['Cast'],
    tolerance: { step: 1e-2, relative: 1e-4 },
    inputs: { a: { shape: [4] } },
    build: (g, x) => g.cast(g.mul(g.cast(x.a!, 'float32'), g.scalar(1, 'float32')), 'float64'),
  },
  {
    name: 'Gather (embedding, scatter gradient)',
    covers: ['Gather'],
    inputs: { table: { shape: [6, 3] }, ids: { shape: [2, 4], init: 'ids', range: 6 } },
    build: (g, x) => g.gather(x.table!, x.ids!, 0),
  },
  {
    name: 'Gather (embedding, one-hot gradient)',
    covers: ['Gather'],
    inputs: { table: { shape: [6, 3] }, ids: { shape: [2, 4], init: 'ids', range: 6 } },
    build: (g, x) => g.gather(x.table!, x.ids!, 0),
    embeddingGradient: 'onehot',
  },
  {
    name: 'Gather and MatMul on one table (tied embedding, sparse accumulation)',
    covers: ['Gather', 'MatMul'],
    inputs: { table: { shape: [6, 3] }, ids: { shape: [2, 4], init: 'ids', range: 6 } },
    build: (g, x) => g.matmul(g.gather(x.table!, x.ids!, 0), g.transpose(x.table!, [1, 0])),
  },
  {
    name: 'GatherElements (token log-probs)',
    covers: ['GatherElements', 'LogSoftmax'],
    inputs: { logits: { shape: [2, 3, 5] }, targets: { shape: [2, 3, 1], init: 'ids', range: 5 } },
    build: (g, x) => g.gatherElements(g.logSoftmax(x.logits!, -1), x.targets!, 2),
  },
  {
    name: 'ScatterElements',
    covers: ['ScatterElements'],
    inputs: {
      data: { shape: [3, 4] },
      updates: { shape: [3, 1] },
      idx: { shape: [3, 1], init: 'ids', range: 4 },
    },
    build: (g, x) => g.scatterElements(x.data!, x.idx!, x.updates!, 1, 'none'),
  },
  {
    name: 'Pad',
    covers: ['Pad'],
    inputs: { a: { shape: [2, 3] } },
    build: (g, x) =>
      g.mul(g.pad(x.a!, g.int64s([1, 0, 0, 2]), [3, 5]), g.pad(x.a!, g.int64s([0, 2, 1, 0]), [3, 5])),
  },
  {
    name: 'RMSNorm',
    covers: ['ReduceMean', 'Sqrt', 'Reciprocal', 'Mul', 'Add'],
    inputs: { h: { shape: [2, 3, 8] }, w: { shape: [8] } },
    build: (g, x) => {
      const variance = g.reduceMean(g.mul(x.h!, x.h!), [-1], true);
      return g.mul(g.mul(x.h!, g.reciprocal(g.sqrt(g.add(variance, g.scalar(1e-6, 'float64'))))), x.w!);
    },
  },
  {
    name: 'SwiGLU',
    covers: ['Sigmoid', 'Mul', 'MatMul'],
    inputs: { h: { shape: [2, 4] }, gate: { shape: [4, 6] }, up: { shape: [4, 6] } },
    build: (g, x) => {
      const gate = g.matmul(x.h!, x.gate!);
      return g.mul(g.mul(gate, g.sigmoid(gate)), g.matmul(x.h!, x.up!));
    },
  },
];

function makeFeed(spec: { shape: number[]; init?: Init; range?: number }, rng: Rng): HostValue {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (spec.init === 'ids') {
    return {
      dtype: 'int64',
      shape: spec.shape,
      data: BigInt64Array.from({ length: size }, () => BigInt(rng.int(spec.range ?? 2))),
    };
  }
  const values = Float64Array.from({ length: size }, () =>
    spec.init === 'positive' ? 0.5 + rng.next() * 1.5 : rng.normal(),
  );
  return { dtype: 'float64', shape: spec.shape, data: values };
}

describe('gradient rules vs float64 central differences', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const rng = createRng(42);
    const g = new Graph('fd');
    const x: Record<string, Tensor> = {};
    const feeds: Record<string, HostValue> = {};
    for (const [name, spec] of Object.entries(testCase.inputs)) {
      const feed = makeFeed(spec, rng);
      feeds[name] = feed;
      x[name] = g.input(name, feed.dtype, spec.shape);
    }
    const out = testCase.build(g, x);
    const loss = randomProjection(g, out, rng);
    const wrt = Object.values(x).filter((t) => t.dtype === 'float64');
    const result = await checkGradients(g, loss, wrt, feeds, {
      rng,
      samplesPerInput: 24,
      ...(testCase.embeddingGradient !== undefined ? { embeddingGradient: testCase.embeddingGradient } : {}),
      ...(testCase.tolerance !== undefined
        ? { step: testCase.tolerance.step, relativeTolerance: testCase.tolerance.relative }
        : {}),
    });
    expect(result.failures).toEqual([]);
    expect(result.checked).toBeGreaterThan(0);
    expect(result.maxRelativeError).toBeLessThan(testCase.tolerance?.relative ?? 1e-6);
  });

  it('covers every differentiable op in the registry', () => {
    const nonDifferentiable = [
      'Equal',
      'Less',
      'Greater',
      'And',
      'Not',
      'Shape',
      'Size',
      'ConstantOfShape',
      'Range',
      'ScatterND',
    ];
    const covered = new Set(cases.flatMap((c) => c.covers));
    const missing = Object.keys(GRADIENT_RULES).filter(
      (op) => !covered.has(op as OpType) && !nonDifferentiable.includes(op),
    );
    expect(missing).toEqual([]);
  });
});
