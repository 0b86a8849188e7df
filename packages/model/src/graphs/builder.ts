// What every part of the decoder graph shares — the graph, the config, weight lookup by HF name,
// the compute precision — and the primitives the attention, MLP and block builders are made of:
// linear, a MatMul in the compute dtype, and RMSNorm.

import type { DType, Graph, Tensor } from '@sr1/graph';
import type { DecoderConfig } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';

/** The state the layer builders take, as nanoGPT's modules take `config`. */
export interface DecoderBuilder {
  g: Graph;
  config: DecoderConfig;
  /** Dtype of the weights as fed, the residual stream, norms, softmax and outputs. */
  dtype: DType;
  /**
   * Dtype of the MatMuls (projections, attention scores and values, heads): `dtype` itself, or a
   * half type whose operands are cast on the way in and whose results are cast back to `dtype`
   * (autocast). Absent: `dtype`.
   */
  compute?: DType;
  /** Dtype of the KV cache entries (inputs, outputs, carried state). Absent: `dtype`. */
  cacheDtype?: DType;
  /** Emit ONNX opset-23 fused ops (RMSNormalization, RotaryEmbedding, Attention); inference only. */
  fused: boolean;
  /** The graph input of an HF weight; fails loudly for a weight the config does not have. */
  weight(name: string): Tensor;
  /**
   * The transpose (in, out) of a linear weight in the compute dtype, when the graph computes it
   * once elsewhere (the decode loop's body reads the outer graph's, so ORT folds each weight's
   * cast and transpose once). Absent: `linear` casts and transposes in place.
   */
  transposed?(name: string): Tensor;
  /**
   * Projections that read the same input (q/k/v, gate/up) run as one MatMul over their weights
   * concatenated (`linears`). Only where the weights are initializers: ORT then folds the concat
   * once; with weights fed per run it would copy them every run.
   */
  concatProjections?: boolean;
}

/** The compute dtype of `b` (its MatMuls). */
export function computeDtype(b: DecoderBuilder): DType {
  return b.compute ?? b.dtype;
}

/** `x` cast to `dtype` (no node when it already is). */
export function castTo(b: DecoderBuilder, x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : b.g.cast(x, dtype);
}

/**
 * `a·w` computed in the compute dtype, the result back in `b.dtype` (autocast's matmul: half
 * operands, a float32 result for the float32 ops after it). `w` may already be in the compute dtype.
 */
export function computeMatmul(b: DecoderBuilder, a: Tensor, w: Tensor): Tensor {
  const compute = computeDtype(b);
  return castTo(b, b.g.matmul(castTo(b, a, compute), castTo(b, w, compute)), b.dtype);
}

/** `x·Wᵀ (+ b)` with HF's (out, in) weight `${prefix}.weight` and bias `${prefix}.bias`. */
export function linear(b: DecoderBuilder, x: Tensor, prefix: string, bias: boolean): Tensor {
  const { g } = b;
  const y = computeMatmul(b, x, transposedWeight(b, `${prefix}.weight`)); // (batch, seq, out)
  return bias ? g.add(y, b.weight(`${prefix}.bias`)) : y;
}

/** The (in, out) transpose of the HF (out, in) weight `name`, in the compute dtype. */
export function transposedWeight(b: DecoderBuilder, name: string): Tensor {
  if (b.transposed !== undefined) return b.transposed(name);
  // cast before the transpose: the transpose then moves half the bytes
  return b.g.transpose(castTo(b, b.weight(name), computeDtype(b)), [1, 0]);
}

/**
 * `linear` of each prefix over the same `x`; with `concatProjections` one MatMul over the
 * weights concatenated along their output axis, then sliced apart (fewer, larger kernels: the
 * batch-1 decode step is mostly per-kernel overhead and weight reads).
 */
export function linears(b: DecoderBuilder, x: Tensor, prefixes: readonly string[], bias: boolean): Tensor[] {
  if (b.concatProjections !== true || prefixes.length < 2)
    return prefixes.map((prefix) => linear(b, x, prefix, bias));
  const { g } = b;
  const widths = prefixes.map((prefix) => {
    const out = b.weight(`${prefix}.weight`).shape[0];
    if (typeof out !== 'number')
      throw new EngineInvariantError(`linears: ${prefix}.weight needs a static output width`);
    return out;
  });
  const weightT = g.concat(
    prefixes.map((prefix) => transposedWeight(b, `${prefix}.weight`)),
    1,
  ); // (in, Σ out)
  let y = computeMatmul(b, x, weightT); // (batch, seq, Σ out)
  if (bias)
    y = g.add(
      y,
      g.concat(
        prefixes.map((prefix) => b.weight(`${prefix}.bias`)),
        0,
      ),
    );
  let start = 0;
  return widths.map((width) => {
    const part = g.slice(y, [start], [start + width], [-1]); // (batch, seq, out)
    start += width;
    return part;
  });
}

/** RMSNorm over the last axis: `x / sqrt(mean(x²) + eps) · weight`. */
export function rmsNorm(b: DecoderBuilder, x: Tensor, weight: Tensor): Tensor {
  const { g, config, dtype } = b;
  if (b.fused) {
    return g.custom({
      opType: 'RMSNormalization',
      domainVersion: 23,
      inputs: [x, weight],
      outputs: [{ dtype, shape: x.shape }],
      attributes: {
        epsilon: { type: 'float', value: config.rmsNormEps },
        axis: { type: 'int', value: -1 },
      },
    })[0]!;
  }
  const variance = g.reduceMean(g.mul(x, x), [-1], true); // (batch, seq, 1)
  const inv = g.reciprocal(g.sqrt(g.add(variance, g.scalar(config.rmsNormEps, dtype))));
  return g.mul(g.mul(x, inv), weight);
}
