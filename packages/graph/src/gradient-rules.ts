// One reverse-mode rule per op, in a single registry checked against OpType at compile time.
// Each rule receives the forward node, its (reused, not recomputed) forward values and the
// upstream gradient, and emits the input gradients as ordinary ONNX nodes in the same graph.

import { isFloat } from './dtype.js';
import { GradientError } from './errors.js';
import type { Graph, Node, OpType, Tensor } from './graph.js';
import type { Dim } from './shape.js';
import { isUnknown, sameDim } from './shape.js';

/** How the gradient of an embedding lookup (Gather on axis 0) is emitted. */
export type EmbeddingGradient = 'scatter' | 'onehot';

/** What a gradient rule sees. */
export interface GradientContext {
  g: Graph;
  node: Node;
  /** The node's inputs (null for omitted optionals). */
  inputs: readonly (Tensor | null)[];
  /** The node's first output (forward value, reused). */
  output: Tensor;
  /** dLoss/dOutput, shaped like `output`. */
  gradOutput: Tensor;
  /** needs[i]: whether input i wants a gradient (rules may skip work when false). */
  needs: readonly boolean[];
  embeddingGradient: EmbeddingGradient;
}

/** Returns dLoss/dInput per input, null where the input gets none. */
export type GradientRule = (context: GradientContext) => readonly (Tensor | null)[];

function input(context: GradientContext, i: number): Tensor {
  const t = context.inputs[i];
  if (t === undefined || t === null) throw new GradientError(context.node.opType, `input ${i} is missing`);
  return t;
}

function intAttribute(node: Node, name: string, fallback?: number): number {
  const a = node.attributes[name];
  if (a === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GradientError(node.opType, `attribute '${name}' is missing`);
  }
  if (a.type !== 'int') throw new GradientError(node.opType, `attribute '${name}' is not an int`);
  return a.value;
}

/** The values of a constant int64 input (axes, starts, …); the gradient needs them at build time. */
export function constantInts(g: Graph, t: Tensor | null | undefined, opType: string): number[] {
  if (t === null || t === undefined) throw new GradientError(opType, 'a constant int input is missing');
  const entry = g.initializers.get(t.name);
  if (entry === undefined)
    throw new GradientError(opType, `input '${t.name}' must be a constant (initializer) for the gradient`);
  return Array.from(entry.value.data as BigInt64Array, Number);
}

function normalizedAxes(axes: readonly number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a));
}

/**
 * Reduces a broadcast gradient back to `target`'s shape: sums the leading axes broadcasting
 * added and the axes where target has size 1. Works with symbolic dims; refuses an unknown
 * target dim that might have been broadcast, rather than guess.
 */
export function sumToShape(g: Graph, grad: Tensor, target: Tensor, opType = 'broadcast'): Tensor {
  let result = grad;
  const leading = grad.shape.length - target.shape.length;
  if (leading < 0)
    throw new GradientError(opType, `gradient rank ${grad.shape.length} < input rank ${target.shape.length}`);
  if (leading > 0)
    result = g.reduceSum(
      result,
      Array.from({ length: leading }, (_, i) => i),
      false,
    );
  const axes: number[] = [];
  target.shape.forEach((dim, i) => {
    const gradDim = result.shape[i]!;
    if (sameDim(dim, gradDim)) return;
    if (dim === 1) axes.push(i);
    else if (isUnknown(dim) && !isUnknown(gradDim)) {
      throw new GradientError(opType, `cannot tell whether unknown dim ${dim} was broadcast to ${gradDim}`);
    }
  });
  if (axes.length > 0) result = g.reduceSum(result, axes, true);
  return result;
}

function transposeLastTwo(g: Graph, x: Tensor): Tensor {
  const rank = x.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return g.transpose(x, perm);
}

function one(g: Graph, like: Tensor): Tensor {
  return g.scalar(1, like.dtype);
}

function reshapeLike(g: Graph, dy: Tensor, x: Tensor): Tensor {
  return g.reshape(dy, g.shapeOf(x), x.shape);
}

/** dy expanded back over the axes a reduction removed. */
function expandReduced(context: GradientContext): {
  x: Tensor;
  axes: number[];
  expanded: Tensor;
  keptGrad: Tensor;
  keptOut: Tensor;
} {
  const { g, node, gradOutput, output } = context;
  const x = input(context, 0);
  const axes = normalizedAxes(constantInts(g, context.inputs[1], node.opType), x.shape.length);
  const keepdims = intAttribute(node, 'keepdims', 1) === 1;
  const keptGrad = keepdims ? gradOutput : g.unsqueeze(gradOutput, axes);
  const keptOut = keepdims ? output : g.unsqueeze(output, axes);
  const expanded = g.expand(keptGrad, g.shapeOf(x), x.shape);
  return { x, axes, expanded, keptGrad, keptOut };
}

/** An int64 1-D tensor [value] computed from a runtime dim of x. */
function runtimeDim(g: Graph, x: Tensor, axis: number): Tensor {
  return g.shapeOf(x, axis, axis + 1);
}

const nonDifferentiable: GradientRule = (context) => context.inputs.map(() => null);

const elementwise = (derivative: (context: GradientContext, x: Tensor) => Tensor): GradientRule => {
  return (context) => [derivative(context, input(context, 0))];
};

/** The registry: one reverse-mode rule per op the builder can emit. */
export const GRADIENT_RULES = {
  Add: (c) => [
    sumToShape(c.g, c.gradOutput, input(c, 0), 'Add'),
    sumToShape(c.g, c.gradOutput, input(c, 1), 'Add'),
  ],
  Sub: (c) => [
    sumToShape(c.g, c.gradOutput, input(c, 0), 'Sub'),
    c.needs[1] ? sumToShape(c.g, c.g.neg(c.gradOutput), input(c, 1), 'Sub') : null,
  ],
  Mul: (c) => {
    const [a, b] = [input(c, 0), input(c, 1)];
    return [
      c.needs[0] ? sumToShape(c.g, c.g.mul(c.gradOutput, b), a, 'Mul') : null,
      c.needs[1] ? sumToShape(c.g, c.g.mul(c.gradOutput, a), b, 'Mul') : null,
    ];
  },
  Div: (c) => {
    const [a, b] = [input(c, 0), input(c, 1)];
    return [
      c.needs[0] ? sumToShape(c.g, c.g.div(c.gradOutput, b), a, 'Div') : null,
      c.needs[1] ? sumToShape(c.g, c.g.neg(c.g.div(c.g.mul(c.gradOutput, c.output), b)), b, 'Div') : null,
    ];
  },
  Pow: (c) => {
    const [a, b] = [input(c, 0), input(c, 1)];
    const { g } = c;
    return [
      c.needs[0]
        ? sumToShape(g, g.mul(c.gradOutput, g.mul(b, g.pow(a, g.sub(b, one(g, b))))), a, 'Pow')
        : null,
      c.needs[1] ? sumToShape(g, g.mul(c.gradOutput, g.mul(c.output, g.log(a))), b, 'Pow') : null,
    ];
  },
  Neg: elementwise((c) => c.g.neg(c.gradOutput)),
  Sqrt: elementwise((c) => c.g.div(c.gradOutput, c.g.mul(c.output, c.g.scalar(2, c.output.dtype)))),
  Reciprocal: elementwise((c) => c.g.neg(c.g.mul(c.gradOutput, c.g.mul(c.output, c.output)))),
  Exp: elementwise((c) => c.g.mul(c.gradOutput, c.output)),
  Log: elementwise((c, x) => c.g.div(c.gradOutput, x)),
  Sigmoid: elementwise((c) => {
    const { g, output: y } = c;
    return g.mul(c.gradOutput, g.mul(y, g.sub(one(g, y), y)));
  }),
  Tanh: elementwise((c) => {
    const { g, output: y } = c;
    return g.mul(c.gradOutput, g.sub(one(g, y), g.mul(y, y)));
  }),
  Cos: elementwise((c, x) => c.g.neg(c.g.mul(c.gradOutput, c.g.sin(x)))),
  Sin: elementwise((c, x) => c.g.mul(c.gradOutput, c.g.cos(x))),
  Identity: elementwise((c) => c.gradOutput),
  MatMul: (c) => {
    const [a, b] = [input(c, 0), input(c, 1)];
    const { g } = c;
    let gradB: Tensor | null = null;
    if (c.needs[1]) {
      const k = a.shape[a.shape.length - 1]!;
      const n = c.gradOutput.shape[c.gradOutput.shape.length - 1]!;
      if (b.shape.length === 2 && a.shape.length > 2 && typeof k === 'number' && typeof n === 'number') {
        // A 2-D weight under batched activations: fold the batch into one GEMM,
        // (k, B·T) @ (B·T, n), instead of a batched product reduced over the batch afterwards.
        const flatA = g.reshape(a, [-1, k]);
        const flatGrad = g.reshape(c.gradOutput, [-1, n]);
        gradB =
          b.producer?.opType === 'Transpose'
            ? // b = Wᵀ (HF linear layout): emit (dYᵀ·A)ᵀ so that the Transpose rule's transpose
              // cancels against this one in the optimiser and dW comes out of one GEMM.
              g.transpose(g.matmul(g.transpose(flatGrad, [1, 0]), flatA), [1, 0])
            : g.matmul(g.transpose(flatA, [1, 0]), flatGrad);
      } else {
        gradB = sumToShape(g, g.matmul(transposeLastTwo(g, a), c.gradOutput), b, 'MatMul');
      }
    }
    return [
      c.needs[0] ? sumToShape(g, g.matmul(c.gradOutput, transposeLastTwo(g, b)), a, 'MatMul') : null,
      gradB,
    ];
  },
  Softmax: (c) => {
    const { g, output: y } = c;
    const axis = intAttribute(c.node, 'axis');
    const dot = g.reduceSum(g.mul(c.gradOutput, y), [axis], true);
    return [g.mul(y, g.sub(c.gradOutput, dot))];
  },
  LogSoftmax: (c) => {
    const { g, output: y } = c;
    const axis = intAttribute(c.node, 'axis');
    return [g.sub(c.gradOutput, g.mul(g.exp(y), g.reduceSum(c.gradOutput, [axis], true)))];
  },
  ReduceSum: (c) => [expandReduced(c).expanded, null],
  ReduceMean: (c) => {
    const { g } = c;
    const { x, axes, expanded } = expandReduced(c);
    const dims = axes.map((a) => x.shape[a]!);
    let count: Tensor;
    if (dims.every((d): d is number => typeof d === 'number')) {
      count = g.scalar(
        dims.reduce((p, q) => p * q, 1),
        x.dtype,
      );
    } else count = g.div(g.cast(g.sizeOf(x), x.dtype), g.cast(g.sizeOf(c.output), x.dtype));
    return [g.div(expanded, count), null];
  },
  ReduceMax: (c) => {
    const { g } = c;
    const { x, axes, expanded, keptOut } = expandReduced(c);
    // Ties share the gradient equally, as PyTorch's amax does.
    const mask = g.cast(g.equal(x, keptOut), x.dtype);
    const share = g.div(mask, g.reduceSum(mask, axes, true));
    return [g.mul(expanded, share), null];
  },
  Reshape: (c) => [reshapeLike(c.g, c.gradOutput, input(c, 0)), null],
  Transpose: (c) => {
    const a = c.node.attributes.perm;
    if (a === undefined || a.type !== 'ints') throw new GradientError('Transpose', 'perm attribute missing');
    const inverse: number[] = [];
    a.value.forEach((p, i) => {
      inverse[p] = i;
    });
    return [c.g.transpose(c.gradOutput, inverse)];
  },
  Slice: (c) => {
    const { g } = c;
    const x = input(c, 0);
    const rank = x.shape.length;
    const starts = constantInts(g, c.inputs[1], 'Slice');
    const ends = constantInts(g, c.inputs[2], 'Slice');
    const axes = normalizedAxes(constantInts(g, c.inputs[3], 'Slice'), rank);
    const steps = c.inputs[4] ? constantInts(g, c.inputs[4], 'Slice') : axes.map(() => 1);
    if (steps.some((s) => s !== 1))
      throw new GradientError('Slice', 'only step 1 slices have a gradient rule');
    // pads = [begin_0..begin_{r-1}, end_0..end_{r-1}], zeros off the sliced axes.
    const begins: Tensor[] = [];
    const endsPad: Tensor[] = [];
    for (let axis = 0; axis < rank; axis++) {
      const k = axes.indexOf(axis);
      if (k < 0) {
        begins.push(g.int64s([0]));
        endsPad.push(g.int64s([0]));
        continue;
      }
      const dim: Dim = x.shape[axis]!;
      const s = starts[k]!;
      const e = ends[k]!;
      if (typeof dim === 'number') {
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
        begins.push(g.int64s([clamp(s)]));
        endsPad.push(g.int64s([dim - Math.max(clamp(e), clamp(s))]));
      } else {
        // Symbolic dim: normalise and clamp to [0, d] at runtime, as ONNX Slice does.
        const d = runtimeDim(g, x, axis);
        const zero = g.int64s([0]);
        const clamp = (v: Tensor) => {
          const low = g.where(g.less(v, zero), zero, v);
          return g.where(g.greater(low, d), d, low);
        };
        const normalise = (v: number) => clamp(v >= 0 ? g.int64s([v]) : g.add(d, g.int64s([v])));
        begins.push(normalise(s));
        const end = e >= Number.MAX_SAFE_INTEGER ? d : normalise(e);
        // an empty slice (end < begin) pads everything before and nothing after
        const begin = begins[begins.length - 1]!;
        endsPad.push(g.sub(d, g.where(g.less(end, begin), begin, end)));
      }
    }
    const pads = g.concat([...begins, ...endsPad], 0);
    return [g.pad(c.gradOutput, pads, x.shape), null, null, null, null].slice(0, c.inputs.length);
  },
  Concat: (c) => {
    const { g } = c;
    const axis = intAttribute(c.node, 'axis');
    const parts: (Tensor | null)[] = [];
    let offset: Tensor | number = 0;
    for (let i = 0; i < c.inputs.length; i++) {
      const x = input(c, i);
      const len = x.shape[axis]!;
      if (typeof offset === 'number' && typeof len === 'number') {
        parts.push(c.needs[i] ? g.slice(c.gradOutput, [offset], [offset + len], [axis]) : null);
        offset += len;
        continue;
      }
      const start: Tensor = typeof offset === 'number' ? g.int64s([offset]) : offset;
      const end = g.add(start, runtimeDim(g, x, axis));
      parts.push(
        c.needs[i]
          ? g.emitRaw(
              'Slice',
              [c.gradOutput, start, end, g.int64s([axis])],
              [{ dtype: x.dtype, shape: x.shape }],
              {},
            )[0]!
          : null,
      );
      offset = end;
    }
    return parts;
  },
  Expand: (c) => [sumToShape(c.g, c.gradOutput, input(c, 0), 'Expand'), null],
  Unsqueeze: (c) => [reshapeLike(c.g, c.gradOutput, input(c, 0)), null],
  Squeeze: (c) => [reshapeLike(c.g, c.gradOutput, input(c, 0)), null],
  Where: (c) => {
    const { g } = c;
    const [condition, a, b] = [input(c, 0), input(c, 1), input(c, 2)];
    const zero = g.scalar(0, c.gradOutput.dtype);
    return [
      null,
      c.needs[1] ? sumToShape(g, g.where(condition, c.gradOutput, zero), a, 'Where') : null,
      c.needs[2] ? sumToShape(g, g.where(condition, zero, c.gradOutput), b, 'Where') : null,
    ];
  },
  Cast: (c) => {
    const x = input(c, 0);
    return [isFloat(x.dtype) && isFloat(c.output.dtype) ? c.g.cast(c.gradOutput, x.dtype) : null];
  },
  Gather: (c) => {
    const { g } = c;
    const [data, indices] = [input(c, 0), input(c, 1)];
    if (intAttribute(c.node, 'axis', 0) !== 0)
      throw new GradientError('Gather', 'only axis 0 (embedding lookup) has a rule');
    const ids = indices.dtype === 'int64' ? indices : g.cast(indices, 'int64');
    if (c.embeddingGradient === 'scatter' || data.shape.length !== 2) {
      // dData[ids[i]] += dy[i]: ScatterND with reduction 'add' into zeros.
      return [g.scatterND(g.zerosLike(data), g.unsqueeze(ids, [-1]), c.gradOutput, 'add'), null];
    }
    // One-hot matmul: (V, N) one-hot of the ids times dy flattened to (N, C).
    const vocab = data.shape[0]!;
    const columns = data.shape[1]!;
    if (typeof vocab !== 'number' || typeof columns !== 'number') {
      throw new GradientError('Gather', 'the one-hot embedding gradient needs a static table shape');
    }
    const flatIds = g.reshape(ids, [-1]); // (N)
    const rows = g.range(g.scalar(0, 'int64'), g.scalar(vocab, 'int64'), g.scalar(1, 'int64'), vocab); // (V)
    const oneHot = g.cast(g.equal(g.unsqueeze(rows, [1]), flatIds), data.dtype); // (V, N)
    const flatGrad = g.reshape(c.gradOutput, [-1, columns]); // (N, C)
    return [g.matmul(oneHot, flatGrad), null];
  },
  GatherElements: (c) => {
    const { g } = c;
    const [data, indices] = [input(c, 0), input(c, 1)];
    const axis = intAttribute(c.node, 'axis', 0);
    return [g.scatterElements(g.zerosLike(data), indices, c.gradOutput, axis, 'add'), null];
  },
  ScatterND: (c) => {
    throw new GradientError(
      c.node.opType,
      'no rule (it would need GatherND); ScatterND only appears inside gradients',
    );
  },
  ScatterElements: (c) => {
    const { g } = c;
    const [indices, updates] = [input(c, 1), input(c, 2)];
    const axis = intAttribute(c.node, 'axis', 0);
    const reduction = c.node.attributes.reduction;
    const adds = reduction?.type === 'string' && reduction.value === 'add';
    const dData = adds
      ? c.gradOutput
      : g.scatterElements(c.gradOutput, indices, g.zerosLike(updates), axis, 'none');
    return [
      c.needs[0] ? dData : null,
      null,
      c.needs[2] ? g.gatherElements(c.gradOutput, indices, axis) : null,
    ];
  },
  Pad: (c) => {
    const { g } = c;
    const [x, pads] = [input(c, 0), input(c, 1)];
    const rank = x.shape.length;
    const begins = g.emitRaw(
      'Slice',
      [pads, g.int64s([0]), g.int64s([rank]), g.int64s([0])],
      [{ dtype: 'int64', shape: [rank] }],
      {},
    )[0]!;
    const ends = g.add(begins, g.shapeOf(x));
    const axes = g.int64s(Array.from({ length: rank }, (_, i) => i));
    return [
      g.emitRaw('Slice', [c.gradOutput, begins, ends, axes], [{ dtype: x.dtype, shape: x.shape }], {})[0]!,
      null,
    ];
  },
  Equal: nonDifferentiable,
  Less: nonDifferentiable,
  Greater: nonDifferentiable,
  And: nonDifferentiable,
  Not: nonDifferentiable,
  Shape: nonDifferentiable,
  Size: nonDifferentiable,
  ConstantOfShape: nonDifferentiable,
  Range: nonDifferentiable,
} satisfies Record<OpType, GradientRule>;
