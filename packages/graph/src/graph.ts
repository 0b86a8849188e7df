// The typed graph builder: every op method checks its inputs' dtypes and shapes (symbolic dims
// allowed) while the graph is built, so a wrong shape fails here, naming the op, not inside ORT.

import type { DType } from './dtype.js';
import { bfloat16Bits, float16Bits, isFloat, ONNX_DTYPE } from './dtype.js';
import { GraphBuildError, GraphShapeError } from './errors.js';
import type { Dim, Shape } from './shape.js';
import {
  addDims,
  broadcastShapes,
  canonicalDim,
  isUnknown,
  normalizeAxis,
  sameDim,
  staticSize,
  unknownDim,
} from './shape.js';

/** Every standard op the builder emits; the gradient registry has one rule per entry. */
export type OpType =
  | 'Add'
  | 'Sub'
  | 'Mul'
  | 'Div'
  | 'Pow'
  | 'Neg'
  | 'Sqrt'
  | 'Reciprocal'
  | 'Exp'
  | 'Log'
  | 'Sigmoid'
  | 'Tanh'
  | 'Cos'
  | 'Sin'
  | 'Identity'
  | 'MatMul'
  | 'Softmax'
  | 'LogSoftmax'
  | 'ReduceSum'
  | 'ReduceMean'
  | 'ReduceMax'
  | 'Reshape'
  | 'Transpose'
  | 'Slice'
  | 'Concat'
  | 'Expand'
  | 'Unsqueeze'
  | 'Squeeze'
  | 'Where'
  | 'Cast'
  | 'Gather'
  | 'GatherElements'
  | 'ScatterND'
  | 'ScatterElements'
  | 'Pad'
  | 'Equal'
  | 'Less'
  | 'Greater'
  | 'And'
  | 'Not'
  | 'Shape'
  | 'Size'
  | 'ConstantOfShape'
  | 'Range';

/** A typed ONNX attribute value. */
export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'string'; value: string }
  | { type: 'ints'; value: readonly number[] }
  | { type: 'floats'; value: readonly number[] }
  | { type: 'tensor'; value: ConstantData }
  | { type: 'graph'; value: Graph };

/** Host data of a constant: its dtype, shape and values (float16/bfloat16: their bits, a Uint16Array). */
export interface ConstantData {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/** A value in a graph: a graph input, an initializer, or a node output. */
export interface Tensor {
  readonly graph: Graph;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** The node that computes it; undefined for inputs and initializers. */
  readonly producer: Node | undefined;
}

/** One operator application. `opType` is an `OpType` unless `custom` is set. */
export interface Node {
  readonly name: string;
  readonly opType: string;
  readonly domain: string;
  /** Inputs in ONNX order; null stands for an omitted optional input. */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attributes: Readonly<Record<string, Attribute>>;
  /** A fused or contrib op outside `OpType`: it runs but has no gradient rule. */
  readonly custom: boolean;
  /** Outer-scope values its subgraphs (e.g. a Loop body) read by name; uses for pruning. */
  readonly implicitInputs?: readonly Tensor[];
}

/** What a Loop body receives: the iteration number, the incoming condition, the carried values. */
export interface LoopBodyInputs {
  iteration: Tensor; // int64 ()
  condition: Tensor; // bool ()
  carried: Tensor[]; // shapes of `LoopOptions.carried`
}

/** What a Loop body returns: whether to continue, the next carried values, per-iteration scan values. */
export interface LoopBodyOutputs {
  condition: Tensor; // bool ()
  carried: readonly Tensor[]; // same dtypes and ranks as the inputs
  scans?: readonly Tensor[]; // stacked along a new leading axis in the Loop's scan outputs
}

/** Options of `Graph.loop` (ONNX Loop). */
export interface LoopOptions {
  /** Maximum trip count, int64 (); null: run until the condition is false. */
  maxTrips: Tensor | null;
  /** Initial condition, bool (); null: true. */
  condition: Tensor | null;
  /** Initial loop-carried values. */
  carried: readonly Tensor[];
  /** Builds the body in its own graph; it may use this graph's values (e.g. weights) directly. */
  body: (body: Graph, inputs: LoopBodyInputs) => LoopBodyOutputs;
}

/** A declared graph input. Ids, masks and shapes are declared non-differentiable. */
export interface GraphInput {
  tensor: Tensor;
  differentiable: boolean;
}

/** Options of `Graph.input`. */
export interface InputOptions {
  /** Whether gradients may flow to this input; false for ids, masks, positions. Default: float dtypes. */
  differentiable?: boolean;
}

/** A model under construction: inputs, initializers, nodes in topological order, outputs. */
export class Graph {
  readonly name: string;
  readonly inputs: GraphInput[] = [];
  readonly initializers = new Map<string, { tensor: Tensor; value: ConstantData }>();
  readonly nodes: Node[] = [];
  readonly outputs: Tensor[] = [];
  /** Extra opset imports, e.g. `com.microsoft` for contrib ops. */
  readonly opsetImports = new Map<string, number>();
  /** The lowest default-domain opset the nodes need (raised by newer custom ops). */
  minimumOpset = 0;
  private readonly names = new Set<string>();
  private readonly constantCache = new Map<string, Tensor>();
  private counter = 0;
  private scopes: string[] = [];
  /** The graph this one is a subgraph of (a Loop body's parent); undefined for a model's graph. */
  readonly parent: Graph | undefined;
  /** Values of enclosing graphs this subgraph reads (ONNX outer-scope references), by name. */
  readonly outerScope = new Map<string, Tensor>();

  constructor(name = 'sr1', parent?: Graph) {
    this.name = name;
    this.parent = parent;
  }

  // ---- naming -------------------------------------------------------------------------------

  /** Runs `build` with node names prefixed by `scope` (e.g. 'layers.3.attn'). */
  scope<T>(scope: string, build: () => T): T {
    this.scopes.push(scope);
    try {
      return build();
    } finally {
      this.scopes.pop();
    }
  }

  private fresh(base: string): string {
    const prefix = this.scopes.length > 0 ? `${this.scopes.join('/')}/` : '';
    let name: string;
    do {
      this.counter += 1;
      name = `${prefix}${base}_${this.counter}`;
    } while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name))
      throw new GraphBuildError(`the name '${name}' is already used in graph '${this.name}'`);
    this.names.add(name);
  }

  private own(t: Tensor, opType: string): void {
    let ancestor = this.parent;
    while (ancestor !== undefined && t.graph !== this && ancestor !== t.graph) ancestor = ancestor.parent;
    if (t.graph !== this && ancestor !== undefined) {
      this.outerScope.set(t.name, t); // an outer-scope reference, resolved by name at run time
      return;
    }
    if (t.graph !== this) {
      throw new GraphBuildError(
        `${opType}: tensor '${t.name}' belongs to graph '${t.graph.name}', not '${this.name}'`,
      );
    }
  }

  // ---- leaves -------------------------------------------------------------------------------

  /** Declares a graph input. Symbolic dims are names ('batch') or sums ('past+new'). */
  input(name: string, dtype: DType, shape: Shape, options: InputOptions = {}): Tensor {
    this.claim(name);
    const tensor: Tensor = { graph: this, name, dtype, shape: shape.map(canonicalDim), producer: undefined };
    this.inputs.push({ tensor, differentiable: options.differentiable ?? isFloat(dtype) });
    return tensor;
  }

  /** Whether gradients may flow into this leaf. */
  isDifferentiableInput(t: Tensor): boolean {
    return this.inputs.some((i) => i.tensor === t && i.differentiable);
  }

  /** A constant stored as an initializer; identical small constants are shared. */
  constant(value: ConstantData, name?: string): Tensor {
    const size = value.shape.reduce((a, b) => a * b, 1);
    if (value.data.length !== size) {
      throw new GraphBuildError(
        `constant: ${value.data.length} values for shape (${value.shape.join(', ')})`,
      );
    }
    const key =
      size <= 16 && name === undefined
        ? `${value.dtype}|${value.shape.join(',')}|${value.data.join(',')}`
        : '';
    if (key !== '') {
      const cached = this.constantCache.get(key);
      if (cached !== undefined) return cached;
    }
    const finalName = name ?? this.fresh('const');
    if (name !== undefined) this.claim(name);
    const tensor: Tensor = {
      graph: this,
      name: finalName,
      dtype: value.dtype,
      shape: [...value.shape],
      producer: undefined,
    };
    this.initializers.set(finalName, { tensor, value });
    if (key !== '') this.constantCache.set(key, tensor);
    return tensor;
  }

  /** A rank-0 constant of the given float or int dtype. */
  scalar(value: number, dtype: DType): Tensor {
    return this.constant({ dtype, shape: [], data: typedArrayOf(dtype, [value]) });
  }

  /** A 1-D int64 constant (axes, shapes, starts). */
  int64s(values: readonly number[]): Tensor {
    return this.constant({
      dtype: 'int64',
      shape: [values.length],
      data: BigInt64Array.from(values.map(BigInt)),
    });
  }

  /**
   * Marks a tensor as a graph output. `name` renames a node output in place (no copy); inputs,
   * initializers and tensors that are already outputs get an Identity under the new name.
   */
  output(t: Tensor, name?: string): Tensor {
    this.own(t, 'output');
    let out = t;
    if (name !== undefined && name !== t.name) {
      this.claim(name);
      if (t.producer !== undefined && !this.outputs.includes(t)) {
        (t as { name: string }).name = name;
      } else {
        out = this.emit('Identity', [t], [{ dtype: t.dtype, shape: t.shape, name }], {})[0]!;
      }
    }
    this.outputs.push(out);
    return out;
  }

  // ---- control flow ---------------------------------------------------------------------------

  /**
   * ONNX Loop: runs `options.body` until `maxTrips` iterations or a false condition. Returns the
   * final carried values (their shapes kept) and the scan outputs, each with a new leading axis of
   * unknown length (the number of iterations run). The body's values are named under a fresh
   * scope, so they never shadow this graph's names.
   */
  loop(options: LoopOptions): { carried: Tensor[]; scans: Tensor[] } {
    const opType = 'Loop';
    const all = [options.maxTrips, options.condition, ...options.carried];
    const check = (ok: boolean, reason: string) => {
      if (!ok)
        this.fail(
          opType,
          all.filter((t): t is Tensor => t !== null),
          reason,
        );
    };
    if (options.maxTrips !== null)
      check(
        options.maxTrips.dtype === 'int64' && options.maxTrips.shape.length === 0,
        'maxTrips must be int64 ()',
      );
    if (options.condition !== null)
      check(
        options.condition.dtype === 'bool' && options.condition.shape.length === 0,
        'condition must be bool ()',
      );
    const prefix = this.fresh('loop');
    const body = new Graph(`${this.name}/${prefix}`, this);
    const result = body.scope(prefix, () => {
      const inputs: LoopBodyInputs = {
        iteration: body.input(`${prefix}/iteration`, 'int64', []),
        condition: body.input(`${prefix}/condition_in`, 'bool', []),
        carried: options.carried.map((t, i) => body.input(`${prefix}/carried_in_${i}`, t.dtype, t.shape)),
      };
      const out = options.body(body, inputs);
      check(
        out.condition.dtype === 'bool' && out.condition.shape.length === 0,
        'the body condition must be bool ()',
      );
      check(
        out.carried.length === options.carried.length,
        `the body returns ${out.carried.length} carried values for ${options.carried.length}`,
      );
      out.carried.forEach((t, i) => {
        const initial = options.carried[i]!;
        check(
          t.dtype === initial.dtype && t.shape.length === initial.shape.length,
          `carried value ${i}: the body returns ${t.dtype} (${t.shape.join(', ')}), the loop starts with ${initial.dtype} (${initial.shape.join(', ')})`,
        );
      });
      body.output(out.condition, `${prefix}/condition_out`);
      for (const [i, t] of out.carried.entries()) body.output(t, `${prefix}/carried_out_${i}`);
      for (const [i, t] of (out.scans ?? []).entries()) body.output(t, `${prefix}/scan_out_${i}`);
      return out;
    });
    const scans = result.scans ?? [];
    const outputs = this.emit(
      opType,
      all,
      [
        ...options.carried.map((t) => ({ dtype: t.dtype, shape: t.shape })),
        ...scans.map((t) => ({ dtype: t.dtype, shape: [unknownDim(), ...t.shape] })),
      ],
      { body: { type: 'graph', value: body } },
      { custom: true }, // no gradient rule: autodiff reports a GradientError
    );
    const node = this.nodes[this.nodes.length - 1]!;
    const implicit = [...body.outerScope.values()];
    (node as { implicitInputs?: readonly Tensor[] }).implicitInputs = implicit;
    for (const t of implicit) if (t.graph !== this) this.outerScope.set(t.name, t); // nested loops
    return {
      carried: outputs.slice(0, options.carried.length),
      scans: outputs.slice(options.carried.length),
    };
  }

  // ---- sampling building blocks (no gradient) -------------------------------------------------

  /** Index of the largest value along `axis` (ONNX ArgMax; ties: the first), int64. */
  argMax(x: Tensor, axis: number, keepdims = false): Tensor {
    const rank = x.shape.length;
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) this.fail('ArgMax', [x], `axis ${axis} out of range for rank ${rank}`);
    const shape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
    return this.emit(
      'ArgMax',
      [x],
      [{ dtype: 'int64', shape }],
      {
        axis: { type: 'int', value: a },
        keepdims: { type: 'int', value: keepdims ? 1 : 0 },
      },
      { custom: true },
    )[0]!;
  }

  /**
   * Uniform samples in [low, high) shaped like `x` (ONNX RandomUniformLike), float32. With a
   * `seed`, onnxruntime seeds the op once per session: a new session repeats the same sequence,
   * and successive runs of one session draw fresh values. Gumbel-max sampling is
   * argMax(logits / temperature − log(−log(u))).
   */
  randomUniformLike(x: Tensor, options: { low?: number; high?: number; seed?: number } = {}): Tensor {
    const attributes: Record<string, Attribute> = {
      dtype: { type: 'int', value: 1 }, // float32
      low: { type: 'float', value: options.low ?? 0 },
      high: { type: 'float', value: options.high ?? 1 },
    };
    if (options.seed !== undefined) attributes.seed = { type: 'float', value: options.seed };
    return this.emit('RandomUniformLike', [x], [{ dtype: 'float32', shape: x.shape }], attributes, {
      custom: true,
    })[0]!;
  }

  // ---- node emission --------------------------------------------------------------------------

  private emit(
    opType: string,
    inputs: readonly (Tensor | null)[],
    outputs: readonly { dtype: DType; shape: Shape; name?: string }[],
    attributes: Record<string, Attribute>,
    options: { domain?: string; custom?: boolean } = {},
  ): Tensor[] {
    for (const t of inputs) if (t !== null) this.own(t, opType);
    const nodeName = this.fresh(opType);
    const outs: Tensor[] = [];
    const node: Node = {
      name: nodeName,
      opType,
      domain: options.domain ?? '',
      inputs: [...inputs],
      outputs: outs,
      attributes,
      custom: options.custom ?? false,
    };
    outputs.forEach((spec, i) => {
      const name = spec.name ?? (outputs.length === 1 ? nodeName : `${nodeName}:${i}`);
      if (spec.name === undefined) this.names.add(name);
      outs.push({
        graph: this,
        name,
        dtype: spec.dtype,
        shape: spec.shape.map(canonicalDim),
        producer: node,
      });
    });
    this.nodes.push(node);
    return outs;
  }

  private fail(opType: string, inputs: readonly Tensor[], reason: string): never {
    throw new GraphShapeError({
      opType,
      // graph, scope and the index the node would have had, e.g. 'decoder-train/layer3#812'
      nodeName: `${[this.name, ...this.scopes].join('/')}#${this.nodes.length}`,
      shapes: inputs.map((t) => t.shape),
      reason,
    });
  }

  private sameDtype(opType: string, inputs: readonly Tensor[]): DType {
    const dtype = inputs[0]!.dtype;
    for (const t of inputs) {
      if (t.dtype !== dtype)
        this.fail(opType, inputs, `dtypes differ (${inputs.map((i) => i.dtype).join(' vs ')})`);
    }
    return dtype;
  }

  private broadcast(opType: string, inputs: readonly Tensor[]): Dim[] {
    const shape = broadcastShapes(inputs.map((t) => t.shape));
    if (shape === undefined) this.fail(opType, inputs, 'shapes do not broadcast (numpy rules)');
    return shape;
  }

  private axis(opType: string, x: Tensor, axis: number): number {
    const a = normalizeAxis(axis, x.shape.length);
    if (a === undefined) this.fail(opType, [x], `axis ${axis} is out of range for rank ${x.shape.length}`);
    return a;
  }

  private binary(opType: OpType, a: Tensor, b: Tensor): Tensor {
    const dtype = this.sameDtype(opType, [a, b]);
    return this.emit(opType, [a, b], [{ dtype, shape: this.broadcast(opType, [a, b]) }], {})[0]!;
  }

  private compare(opType: OpType, a: Tensor, b: Tensor): Tensor {
    this.sameDtype(opType, [a, b]);
    return this.emit(opType, [a, b], [{ dtype: 'bool', shape: this.broadcast(opType, [a, b]) }], {})[0]!;
  }

  private unary(opType: OpType, x: Tensor, floatOnly = true): Tensor {
    if (floatOnly && !isFloat(x.dtype)) this.fail(opType, [x], `needs a float input, got ${x.dtype}`);
    return this.emit(opType, [x], [{ dtype: x.dtype, shape: x.shape }], {})[0]!;
  }

  // ---- elementwise ------------------------------------------------------------------------------

  /** a + b with numpy broadcasting. */
  add(a: Tensor, b: Tensor): Tensor {
    return this.binary('Add', a, b);
  }
  /** a - b with numpy broadcasting. */
  sub(a: Tensor, b: Tensor): Tensor {
    return this.binary('Sub', a, b);
  }
  /** a * b with numpy broadcasting. */
  mul(a: Tensor, b: Tensor): Tensor {
    return this.binary('Mul', a, b);
  }
  /** a / b with numpy broadcasting. */
  div(a: Tensor, b: Tensor): Tensor {
    return this.binary('Div', a, b);
  }
  /** a ** b with numpy broadcasting (float). */
  pow(a: Tensor, b: Tensor): Tensor {
    return this.binary('Pow', a, b);
  }
  /** -x */
  neg(x: Tensor): Tensor {
    return this.unary('Neg', x, false);
  }
  /** √x */
  sqrt(x: Tensor): Tensor {
    return this.unary('Sqrt', x);
  }
  /** 1/x */
  reciprocal(x: Tensor): Tensor {
    return this.unary('Reciprocal', x);
  }
  /** eˣ */
  exp(x: Tensor): Tensor {
    return this.unary('Exp', x);
  }
  /** ln x */
  log(x: Tensor): Tensor {
    return this.unary('Log', x);
  }
  /** 1/(1+e⁻ˣ) */
  sigmoid(x: Tensor): Tensor {
    return this.unary('Sigmoid', x);
  }
  /** tanh x */
  tanh(x: Tensor): Tensor {
    return this.unary('Tanh', x);
  }
  /** cos x */
  cos(x: Tensor): Tensor {
    return this.unary('Cos', x);
  }
  /** sin x */
  sin(x: Tensor): Tensor {
    return this.unary('Sin', x);
  }
  /** A copy (used to rename outputs). */
  identity(x: Tensor): Tensor {
    return this.unary('Identity', x, false);
  }
  /** a == b, elementwise, bool result. */
  equal(a: Tensor, b: Tensor): Tensor {
    return this.compare('Equal', a, b);
  }
  /** a < b, elementwise, bool result. */
  less(a: Tensor, b: Tensor): Tensor {
    return this.compare('Less', a, b);
  }
  /** a > b, elementwise, bool result. */
  greater(a: Tensor, b: Tensor): Tensor {
    return this.compare('Greater', a, b);
  }
  /** Logical and of two bool tensors. */
  and(a: Tensor, b: Tensor): Tensor {
    if (a.dtype !== 'bool' || b.dtype !== 'bool') this.fail('And', [a, b], 'needs bool inputs');
    return this.compare('And', a, b);
  }
  /** Logical not of a bool tensor. */
  not(x: Tensor): Tensor {
    if (x.dtype !== 'bool') this.fail('Not', [x], 'needs a bool input');
    return this.unary('Not', x, false);
  }
  /** condition ? a : b with broadcasting over all three. */
  where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
    if (condition.dtype !== 'bool') this.fail('Where', [condition, a, b], 'condition must be bool');
    const dtype = this.sameDtype('Where', [a, b]);
    return this.emit(
      'Where',
      [condition, a, b],
      [{ dtype, shape: this.broadcast('Where', [condition, a, b]) }],
      {},
    )[0]!;
  }
  /** Converts the element type. */
  cast(x: Tensor, to: DType): Tensor {
    return this.emit('Cast', [x], [{ dtype: to, shape: x.shape }], {
      to: { type: 'int', value: ONNX_DTYPE[to] },
    })[0]!;
  }

  // ---- linear algebra and normalisers ---------------------------------------------------------

  /** Batched matmul with numpy semantics: (…, m, k) @ (…, k, n) → (…, m, n); batch dims broadcast. */
  matmul(a: Tensor, b: Tensor): Tensor {
    const dtype = this.sameDtype('MatMul', [a, b]);
    if (a.shape.length < 2 || b.shape.length < 2)
      this.fail('MatMul', [a, b], 'operands of rank < 2 are not supported');
    const k1 = a.shape[a.shape.length - 1]!;
    const k2 = b.shape[b.shape.length - 2]!;
    if (!sameDim(k1, k2) && !isUnknown(k1) && !isUnknown(k2)) {
      this.fail('MatMul', [a, b], `inner dimensions differ (${k1} vs ${k2})`);
    }
    const batch = broadcastShapes([a.shape.slice(0, -2), b.shape.slice(0, -2)]);
    if (batch === undefined) this.fail('MatMul', [a, b], 'batch dimensions do not broadcast');
    const shape = [...batch, a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!];
    return this.emit('MatMul', [a, b], [{ dtype, shape }], {})[0]!;
  }

  /** Softmax along `axis` (opset ≥ 13 semantics: one axis). */
  softmax(x: Tensor, axis = -1): Tensor {
    const a = this.axis('Softmax', x, axis);
    return this.emit('Softmax', [x], [{ dtype: x.dtype, shape: x.shape }], {
      axis: { type: 'int', value: a },
    })[0]!;
  }

  /** Log-softmax along `axis`. */
  logSoftmax(x: Tensor, axis = -1): Tensor {
    const a = this.axis('LogSoftmax', x, axis);
    return this.emit('LogSoftmax', [x], [{ dtype: x.dtype, shape: x.shape }], {
      axis: { type: 'int', value: a },
    })[0]!;
  }

  private reduce(
    opType: 'ReduceSum' | 'ReduceMean' | 'ReduceMax',
    x: Tensor,
    axes: readonly number[],
    keepdims: boolean,
  ): Tensor {
    const normalized = axes.map((axis) => this.axis(opType, x, axis));
    const shape: Dim[] = [];
    x.shape.forEach((dim, i) => {
      if (!normalized.includes(i)) shape.push(dim);
      else if (keepdims) shape.push(1);
    });
    return this.emit(opType, [x, this.int64s(normalized)], [{ dtype: x.dtype, shape }], {
      keepdims: { type: 'int', value: keepdims ? 1 : 0 },
    })[0]!;
  }
  /** Sum over `axes`. */
  reduceSum(x: Tensor, axes: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceSum', x, axes, keepdims);
  }
  /** Mean over `axes`. */
  reduceMean(x: Tensor, axes: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceMean', x, axes, keepdims);
  }
  /** Max over `axes`. */
  reduceMax(x: Tensor, axes: readonly number[], keepdims = true): Tensor {
    return this.reduce('ReduceMax', x, axes, keepdims);
  }

  // ---- shape manipulation -----------------------------------------------------------------------

  /**
   * Reshape to a static target where 0 copies the input dim and -1 is inferred (ONNX rules,
   * allowzero=0), or to a runtime int64 shape tensor whose result shape the caller states.
   */
  reshape(x: Tensor, target: readonly number[] | Tensor, resultShape?: Shape): Tensor {
    if (!Array.isArray(target)) {
      const shapeTensor = target as Tensor;
      if (shapeTensor.dtype !== 'int64')
        this.fail('Reshape', [x, shapeTensor], 'the shape tensor must be int64');
      const shape = resultShape ?? Array.from({ length: Number(shapeTensor.shape[0]) }, () => unknownDim());
      return this.emit('Reshape', [x, shapeTensor], [{ dtype: x.dtype, shape }], {})[0]!;
    }
    const dims = target as readonly number[];
    const shape = inferReshape(dims, x.shape);
    if (typeof shape === 'string')
      this.fail('Reshape', [x], `cannot reshape to [${dims.join(', ')}]: ${shape}`);
    return this.emit('Reshape', [x, this.int64s(dims)], [{ dtype: x.dtype, shape }], {})[0]!;
  }

  /** Permutes axes. */
  transpose(x: Tensor, perm: readonly number[]): Tensor {
    const sorted = [...perm].sort((p, q) => p - q);
    if (perm.length !== x.shape.length || sorted.some((p, i) => p !== i)) {
      this.fail('Transpose', [x], `perm [${perm.join(', ')}] is not a permutation of rank ${x.shape.length}`);
    }
    const shape = perm.map((p) => x.shape[p]!);
    return this.emit('Transpose', [x], [{ dtype: x.dtype, shape }], {
      perm: { type: 'ints', value: [...perm] },
    })[0]!;
  }

  /** Slice with static starts/ends (step 1 or given); ends may exceed the dim (clamped). */
  slice(
    x: Tensor,
    starts: readonly number[],
    ends: readonly number[],
    axes: readonly number[],
    steps?: readonly number[],
  ): Tensor {
    if (starts.length !== axes.length || ends.length !== axes.length) {
      this.fail('Slice', [x], 'starts, ends and axes must have the same length');
    }
    const shape: Dim[] = [...x.shape];
    axes.forEach((axis, i) => {
      const a = this.axis('Slice', x, axis);
      const step = steps?.[i] ?? 1;
      shape[a] = sliceDim(x.shape[a]!, starts[i]!, ends[i]!, step);
    });
    const inputs: Tensor[] = [
      x,
      this.int64s(starts),
      this.int64s(ends.map((e) => Math.min(e, Number.MAX_SAFE_INTEGER))),
      this.int64s(axes),
    ];
    if (steps !== undefined) inputs.push(this.int64s(steps));
    return this.emit('Slice', inputs, [{ dtype: x.dtype, shape }], {})[0]!;
  }

  /** Joins tensors along `axis`; other dims must agree. */
  concat(xs: readonly Tensor[], axis: number): Tensor {
    if (xs.length === 0) throw new GraphBuildError('concat: no inputs');
    const dtype = this.sameDtype('Concat', xs);
    const first = xs[0]!;
    const a = this.axis('Concat', first, axis);
    let along: Dim = 0;
    for (const t of xs) {
      if (t.shape.length !== first.shape.length) this.fail('Concat', xs, 'ranks differ');
      t.shape.forEach((dim, i) => {
        if (i !== a && !sameDim(dim, first.shape[i]!) && !isUnknown(dim) && !isUnknown(first.shape[i]!)) {
          this.fail('Concat', xs, `dimension ${i} differs (${first.shape[i]} vs ${dim})`);
        }
      });
      along = addDims(along, t.shape[a]!);
    }
    const shape = [...first.shape];
    shape[a] = along;
    return this.emit('Concat', xs, [{ dtype, shape }], { axis: { type: 'int', value: a } })[0]!;
  }

  /** Broadcasts `x` to `target` (bidirectional, like numpy's broadcast_to with 1s allowed). */
  expand(x: Tensor, target: readonly number[] | Tensor, resultShape?: Shape): Tensor {
    if (!Array.isArray(target)) {
      const shapeTensor = target as Tensor;
      const shape = resultShape ?? Array.from({ length: Number(shapeTensor.shape[0]) }, () => unknownDim());
      const checked = broadcastShapes([x.shape, shape]);
      if (checked === undefined)
        this.fail('Expand', [x, shapeTensor], `cannot expand to (${shape.join(', ')})`);
      return this.emit('Expand', [x, shapeTensor], [{ dtype: x.dtype, shape: checked }], {})[0]!;
    }
    const dims = target as readonly number[];
    const shape = broadcastShapes([x.shape, dims]);
    if (shape === undefined) this.fail('Expand', [x], `cannot expand to (${dims.join(', ')})`);
    return this.emit('Expand', [x, this.int64s(dims)], [{ dtype: x.dtype, shape }], {})[0]!;
  }

  /** Inserts size-1 axes (axes index the output). */
  unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
    const rank = x.shape.length + axes.length;
    const normalized = axes.map((axis) => {
      const a = normalizeAxis(axis, rank);
      if (a === undefined) this.fail('Unsqueeze', [x], `axis ${axis} out of range for output rank ${rank}`);
      return a;
    });
    const shape: Dim[] = [];
    let source = 0;
    for (let i = 0; i < rank; i++) shape.push(normalized.includes(i) ? 1 : x.shape[source++]!);
    return this.emit('Unsqueeze', [x, this.int64s(normalized)], [{ dtype: x.dtype, shape }], {})[0]!;
  }

  /** Removes size-1 axes. */
  squeeze(x: Tensor, axes: readonly number[]): Tensor {
    const normalized = axes.map((axis) => this.axis('Squeeze', x, axis));
    for (const a of normalized) {
      const dim = x.shape[a]!;
      if (dim !== 1 && !isUnknown(dim)) this.fail('Squeeze', [x], `axis ${a} has size ${dim}, not 1`);
    }
    const shape = x.shape.filter((_, i) => !normalized.includes(i));
    return this.emit('Squeeze', [x, this.int64s(normalized)], [{ dtype: x.dtype, shape }], {})[0]!;
  }

  /** Pads with zeros; `pads` is int64 (2·rank) [begin…, end…]; the caller states the result shape. */
  pad(x: Tensor, pads: Tensor, resultShape: Shape): Tensor {
    if (pads.dtype !== 'int64') this.fail('Pad', [x, pads], 'pads must be int64');
    return this.emit('Pad', [x, pads], [{ dtype: x.dtype, shape: resultShape }], {})[0]!;
  }

  // ---- indexing -----------------------------------------------------------------------------------

  /** Gathers slices of `data` along `axis` at integer `indices` (embedding lookup). */
  gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
    if (indices.dtype !== 'int64' && indices.dtype !== 'int32')
      this.fail('Gather', [data, indices], 'indices must be int64/int32');
    const a = this.axis('Gather', data, axis);
    const shape = [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)];
    return this.emit('Gather', [data, indices], [{ dtype: data.dtype, shape }], {
      axis: { type: 'int', value: a },
    })[0]!;
  }

  /** Picks `data[..., indices[...], ...]` elementwise along `axis`; output has indices' shape. */
  gatherElements(data: Tensor, indices: Tensor, axis: number): Tensor {
    if (indices.dtype !== 'int64') this.fail('GatherElements', [data, indices], 'indices must be int64');
    if (indices.shape.length !== data.shape.length)
      this.fail('GatherElements', [data, indices], 'ranks differ');
    const a = this.axis('GatherElements', data, axis);
    indices.shape.forEach((dim, i) => {
      if (i !== a && !sameDim(dim, data.shape[i]!) && !isUnknown(dim) && !isUnknown(data.shape[i]!)) {
        this.fail('GatherElements', [data, indices], `dimension ${i} differs`);
      }
    });
    return this.emit('GatherElements', [data, indices], [{ dtype: data.dtype, shape: indices.shape }], {
      axis: { type: 'int', value: a },
    })[0]!;
  }

  /** Scatters `updates` into a copy of `data` at `indices` (last axis indexes data), combining by `reduction`. */
  scatterND(data: Tensor, indices: Tensor, updates: Tensor, reduction: 'none' | 'add' = 'none'): Tensor {
    if (indices.dtype !== 'int64') this.fail('ScatterND', [data, indices, updates], 'indices must be int64');
    this.sameDtype('ScatterND', [data, updates]);
    return this.emit('ScatterND', [data, indices, updates], [{ dtype: data.dtype, shape: data.shape }], {
      reduction: { type: 'string', value: reduction },
    })[0]!;
  }

  /** Elementwise scatter along `axis`, the inverse of GatherElements. */
  scatterElements(
    data: Tensor,
    indices: Tensor,
    updates: Tensor,
    axis: number,
    reduction: 'none' | 'add' = 'none',
  ): Tensor {
    if (indices.dtype !== 'int64')
      this.fail('ScatterElements', [data, indices, updates], 'indices must be int64');
    this.sameDtype('ScatterElements', [data, updates]);
    const a = this.axis('ScatterElements', data, axis);
    return this.emit(
      'ScatterElements',
      [data, indices, updates],
      [{ dtype: data.dtype, shape: data.shape }],
      {
        axis: { type: 'int', value: a },
        reduction: { type: 'string', value: reduction },
      },
    )[0]!;
  }

  // ---- runtime shapes -----------------------------------------------------------------------------

  /** The runtime shape of `x` as int64 (rank), or dims [start, end). */
  shapeOf(x: Tensor, start?: number, end?: number): Tensor {
    const rank = x.shape.length;
    const s = start === undefined ? 0 : start < 0 ? start + rank : start;
    const e = end === undefined ? rank : end < 0 ? end + rank : end;
    const attributes: Record<string, Attribute> = {};
    if (start !== undefined) attributes.start = { type: 'int', value: s };
    if (end !== undefined) attributes.end = { type: 'int', value: e };
    return this.emit('Shape', [x], [{ dtype: 'int64', shape: [Math.max(0, e - s)] }], attributes)[0]!;
  }

  /** The runtime element count of `x` as an int64 scalar. */
  sizeOf(x: Tensor): Tensor {
    return this.emit('Size', [x], [{ dtype: 'int64', shape: [] }], {})[0]!;
  }

  /** A tensor filled with `value`, shaped by a runtime int64 shape; the caller states the shape. */
  constantOfShape(shape: Tensor, value: number, dtype: DType, resultShape: Shape): Tensor {
    return this.emit('ConstantOfShape', [shape], [{ dtype, shape: resultShape }], {
      value: { type: 'tensor', value: { dtype, shape: [1], data: typedArrayOf(dtype, [value]) } },
    })[0]!;
  }

  /** Zeros shaped and typed like `x`. */
  zerosLike(x: Tensor): Tensor {
    return this.constantOfShape(this.shapeOf(x), 0, x.dtype, x.shape);
  }

  /** [start, start+delta, …) below limit; scalars of one dtype; the caller states the length. */
  range(start: Tensor, limit: Tensor, delta: Tensor, length: Dim): Tensor {
    const dtype = this.sameDtype('Range', [start, limit, delta]);
    return this.emit('Range', [start, limit, delta], [{ dtype, shape: [length] }], {})[0]!;
  }

  // ---- escape hatch ---------------------------------------------------------------------------------

  /**
   * A fused or contrib op (e.g. opset-23 RMSNormalization, com.microsoft GroupQueryAttention) with
   * caller-stated output types. It runs like any node but has no gradient: inference graphs only.
   */
  custom(spec: {
    opType: string;
    domain?: string;
    domainVersion?: number;
    inputs: readonly (Tensor | null)[];
    outputs: readonly { dtype: DType; shape: Shape }[];
    attributes?: Record<string, Attribute>;
  }): Tensor[] {
    if (spec.domain !== undefined && spec.domain !== '')
      this.opsetImports.set(spec.domain, spec.domainVersion ?? 1);
    else if (spec.domainVersion !== undefined)
      this.minimumOpset = Math.max(this.minimumOpset, spec.domainVersion);
    return this.emit(spec.opType, spec.inputs, spec.outputs, spec.attributes ?? {}, {
      ...(spec.domain !== undefined ? { domain: spec.domain } : {}),
      custom: true,
    });
  }

  /** Emits a standard op by type; used by the autodiff, which works op-generically. */
  emitRaw(
    opType: OpType,
    inputs: readonly (Tensor | null)[],
    outputs: readonly { dtype: DType; shape: Shape }[],
    attributes: Record<string, Attribute>,
  ): Tensor[] {
    return this.emit(opType, inputs, outputs, attributes);
  }
}

/** A typed array holding `values` in `dtype`'s layout. */
export function typedArrayOf(dtype: DType, values: readonly number[]): ConstantData['data'] {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values);
    case 'float64':
      return Float64Array.from(values);
    case 'int64':
      return BigInt64Array.from(values.map((v) => BigInt(Math.trunc(v))));
    case 'int32':
      return Int32Array.from(values);
    case 'bool':
      return Uint8Array.from(values.map((v) => (v !== 0 ? 1 : 0)));
    case 'float16':
      return Uint16Array.from(values, float16Bits);
    case 'bfloat16':
      return Uint16Array.from(values, bfloat16Bits);
  }
}

/** Output dim of a static slice on `dim`. */
function sliceDim(dim: Dim, start: number, end: number, step: number): Dim {
  if (typeof dim === 'number') {
    const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
    if (step > 0) {
      const s = clamp(start < 0 ? start + dim : start, 0, dim);
      const e = clamp(end < 0 ? end + dim : end, 0, dim);
      return Math.max(0, Math.ceil((e - s) / step));
    }
    const s = clamp(start < 0 ? start + dim : start, -1, dim - 1);
    const e = clamp(end < 0 ? end + dim : end, -1, dim - 1);
    return Math.max(0, Math.ceil((s - e) / -step));
  }
  if (step === 1 && start === 0 && end >= Number.MAX_SAFE_INTEGER) return dim;
  // The last position of a symbolic (non-empty) dim; anything else depends on the runtime size, so
  // it stays unknown rather than assumed (the optimiser trusts static dims).
  if (step === 1 && start === -1 && end >= Number.MAX_SAFE_INTEGER) return 1;
  return unknownDim();
}

/** Static reshape inference; returns an error string when impossible. */
function inferReshape(target: readonly number[], input: Shape): Dim[] | string {
  const out: (Dim | null)[] = [];
  const remainingSymbols: string[] = [];
  let inputNumeric = 1;
  for (const dim of input) {
    if (typeof dim === 'number') inputNumeric *= dim;
    else remainingSymbols.push(dim);
  }
  let outputNumeric = 1;
  let inferredAt = -1;
  for (let i = 0; i < target.length; i++) {
    const t = target[i]!;
    if (t === 0) {
      const dim = input[i];
      if (dim === undefined) return `0 at position ${i} but the input has rank ${input.length}`;
      out.push(dim);
      if (typeof dim === 'number') outputNumeric *= dim;
      else remainingSymbols.splice(remainingSymbols.indexOf(dim), 1);
    } else if (t === -1) {
      if (inferredAt >= 0) return 'more than one -1';
      inferredAt = i;
      out.push(null);
    } else if (t > 0) {
      out.push(t);
      outputNumeric *= t;
    } else return `invalid dim ${t}`;
  }
  if (inferredAt >= 0) {
    if (inputNumeric % outputNumeric !== 0 && remainingSymbols.length === 0) {
      return `${inputNumeric} elements do not divide into ${outputNumeric}`;
    }
    const factor = inputNumeric / outputNumeric;
    let inferred: Dim;
    if (remainingSymbols.length === 0) inferred = factor;
    else if (remainingSymbols.length === 1 && factor === 1) inferred = remainingSymbols[0]!;
    else inferred = unknownDim();
    out[inferredAt] = inferred;
  } else if (remainingSymbols.length === 0) {
    const inSize = staticSize(input);
    if (inSize !== undefined && inSize !== outputNumeric)
      return `${inSize} elements cannot become ${outputNumeric}`;
  } else {
    // Symbols that vanish without a -1 to absorb them only fit if they are runtime 1s; reject.
    const outputSymbols = out.filter((d): d is string => typeof d === 'string');
    if (remainingSymbols.some((s) => !outputSymbols.includes(s) && !isUnknown(s))) {
      return `symbolic dims (${remainingSymbols.join(', ')}) have nowhere to go`;
    }
  }
  return out as Dim[];
}
