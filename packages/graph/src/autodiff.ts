// Reverse-mode autodiff over a built Graph: walks the nodes between the parameters and the loss
// backwards and asks each op's rule (gradient-rules.ts) to emit its input gradients into the
// same graph, so forward values are reused by the gradient nodes rather than recomputed.

import { isFloat } from './dtype.js';
import { GradientError, GraphBuildError } from './errors.js';
import type { EmbeddingGradient, GradientRule } from './gradient-rules.js';
import { GRADIENT_RULES } from './gradient-rules.js';
import type { Graph, OpType, Tensor } from './graph.js';
import { sameDim } from './shape.js';

/** What to differentiate: a scalar loss, or outputs with upstream gradients (vector-Jacobian). */
export type GradientTarget = { loss: Tensor } | { outputs: readonly Tensor[]; upstream: readonly Tensor[] };

/** Options of `gradients`. */
export interface GradientOptions {
  /** Embedding (Gather) gradient: 'scatter' (ScatterND add, default) or 'onehot' (matmul). */
  embeddingGradient?: EmbeddingGradient;
}

/**
 * Emits d(target)/d(wrt) into `graph` and returns one gradient tensor per `wrt` tensor (shaped
 * like it). For `{ outputs, upstream }` the result is Σ upstream·∂outputs/∂wrt, the RL seam:
 * the caller feeds dLoss/dOutput as graph inputs.
 */
export function gradients(
  graph: Graph,
  target: GradientTarget,
  wrt: readonly Tensor[],
  options: GradientOptions = {},
): Tensor[] {
  const seeds = new Map<Tensor, Tensor>();
  if ('loss' in target) {
    const loss = target.loss;
    if (loss.shape.some((d) => d !== 1)) {
      throw new GraphBuildError(
        `gradients: loss '${loss.name}' must be a scalar, got shape (${loss.shape.join(', ')})`,
      );
    }
    seeds.set(
      loss,
      graph.constant({ dtype: loss.dtype, shape: loss.shape.map(() => 1), data: onesOf(loss.dtype) }),
    );
  } else {
    if (target.outputs.length !== target.upstream.length) {
      throw new GraphBuildError('gradients: outputs and upstream must have the same length');
    }
    target.outputs.forEach((out, i) => {
      const up = target.upstream[i]!;
      if (
        up.dtype !== out.dtype ||
        up.shape.length !== out.shape.length ||
        up.shape.some((d, k) => !sameDim(d, out.shape[k]!))
      ) {
        throw new GraphBuildError(
          `gradients: upstream '${up.name}' (${up.dtype} (${up.shape.join(', ')})) does not match output '${out.name}' (${out.dtype} (${out.shape.join(', ')}))`,
        );
      }
      seeds.set(out, up);
    });
  }
  for (const w of wrt) {
    if (w.graph !== graph) throw new GraphBuildError(`gradients: '${w.name}' belongs to another graph`);
    if (!isFloat(w.dtype))
      throw new GraphBuildError(`gradients: '${w.name}' is ${w.dtype}, not a float tensor`);
    if (w.producer === undefined && !graph.isDifferentiableInput(w) && !graph.initializers.has(w.name)) {
      throw new GraphBuildError(`gradients: input '${w.name}' was declared non-differentiable`);
    }
  }

  // Forward pass: which values depend on wrt (only those carry gradients).
  const active = new Set<Tensor>(wrt);
  const forwardNodes = graph.nodes.slice();
  for (const node of forwardNodes) {
    if (node.inputs.some((i) => i !== null && active.has(i))) {
      for (const o of node.outputs) if (isFloat(o.dtype)) active.add(o);
    }
  }

  const grads = new Map<Tensor, Tensor>(seeds);
  const accumulate = (t: Tensor, g: Tensor, opType: string) => {
    if (g.dtype !== t.dtype || g.shape.length !== t.shape.length) {
      throw new GradientError(
        opType,
        `rule returned ${g.dtype} rank ${g.shape.length} for '${t.name}' (${t.dtype} rank ${t.shape.length})`,
      );
    }
    const previous = grads.get(t);
    grads.set(t, previous === undefined ? g : accumulateGradients(graph, previous, g));
  };

  for (let n = forwardNodes.length - 1; n >= 0; n--) {
    const node = forwardNodes[n]!;
    const gradOutput = grads.get(node.outputs[0]!);
    if (gradOutput === undefined) {
      if (node.outputs.slice(1).some((o) => grads.has(o))) {
        throw new GradientError(node.opType, 'gradients of secondary outputs are not supported');
      }
      continue;
    }
    const needs = node.inputs.map((i) => i !== null && active.has(i));
    if (!needs.some(Boolean)) continue;
    if (node.custom) {
      throw new GradientError(
        node.opType,
        'custom/fused ops have no gradient; build training graphs from standard ops',
      );
    }
    const rule = (GRADIENT_RULES as Record<OpType, GradientRule>)[node.opType as OpType];
    if (rule === undefined) throw new GradientError(node.opType, 'no gradient rule registered');
    const inputGrads = graph.scope(`grad/${node.name}`, () =>
      rule({
        g: graph,
        node,
        inputs: node.inputs,
        output: node.outputs[0]!,
        gradOutput,
        needs,
        embeddingGradient: options.embeddingGradient ?? 'scatter',
      }),
    );
    node.inputs.forEach((inputTensor, i) => {
      const ig = inputGrads[i];
      if (inputTensor === null || !needs[i] || ig === null || ig === undefined) return;
      accumulate(inputTensor, ig, node.opType);
    });
  }

  return wrt.map((w) => grads.get(w) ?? graph.zerosLike(w));
}

/** ScatterND(zeros, indices, updates, 'add'): a sparse gradient (embedding rows). */
function sparseParts(t: Tensor): { indices: Tensor; updates: Tensor } | undefined {
  const node = t.producer;
  if (node === undefined || node.opType !== 'ScatterND' || node.custom) return undefined;
  const reduction = node.attributes.reduction;
  if (reduction?.type !== 'string' || reduction.value !== 'add') return undefined;
  const [data, indices, updates] = node.inputs;
  if (data?.producer?.opType !== 'ConstantOfShape' || indices == null || updates == null) return undefined;
  const fill = data.producer.attributes.value;
  if (
    fill?.type !== 'tensor' ||
    Array.from(fill.value.data as ArrayLike<number>).some((v) => Number(v) !== 0)
  )
    return undefined;
  return { indices, updates };
}

/**
 * a + b, except that a sparse (scattered-into-zeros) gradient is scattered into the other one
 * instead: a tied embedding's lm_head gradient then absorbs the lookup's rows without a zero
 * (vocab, hidden) tensor and a full-size Add.
 */
function accumulateGradients(graph: Graph, a: Tensor, b: Tensor): Tensor {
  const sparseB = sparseParts(b);
  if (sparseB !== undefined && sparseParts(a) === undefined)
    return graph.scatterND(a, sparseB.indices, sparseB.updates, 'add');
  const sparseA = sparseParts(a);
  if (sparseA !== undefined && sparseB === undefined)
    return graph.scatterND(b, sparseA.indices, sparseA.updates, 'add');
  return graph.add(a, b);
}

function onesOf(dtype: Tensor['dtype']): Float32Array | Float64Array {
  if (dtype === 'float64') return Float64Array.of(1);
  if (dtype === 'float32') return Float32Array.of(1);
  throw new GraphBuildError(`gradients: loss dtype ${dtype} is not supported (float32/float64)`);
}
