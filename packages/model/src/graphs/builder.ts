// What every part of the decoder graph shares — the graph, the config, weight lookup by HF name —
// and the two primitives the attention, MLP and block builders are made of: linear and RMSNorm.

import type { DType, Graph, Tensor } from '@sr1/graph';
import type { DecoderConfig } from '../engine-types.js';

/** The state the layer builders take, as nanoGPT's modules take `config`. */
export interface DecoderBuilder {
  g: Graph;
  config: DecoderConfig;
  /** Compute dtype of weights and activations. */
  dtype: DType;
  /** Emit ONNX opset-23 fused ops (RMSNormalization, RotaryEmbedding, Attention); inference only. */
  fused: boolean;
  /** The graph input of an HF weight; fails loudly for a weight the config does not have. */
  weight(name: string): Tensor;
  /**
   * The transpose (in, out) of a linear weight, when the graph computes it once elsewhere (the
   * decode loop's body reads the outer graph's, so ORT folds each weight's transpose once).
   * Absent: `linear` transposes in place.
   */
  transposed?(name: string): Tensor;
}

/** `x·Wᵀ (+ b)` with HF's (out, in) weight `${prefix}.weight` and bias `${prefix}.bias`. */
export function linear(b: DecoderBuilder, x: Tensor, prefix: string, bias: boolean): Tensor {
  const { g } = b;
  const name = `${prefix}.weight`; // (out, in)
  const weightT = b.transposed !== undefined ? b.transposed(name) : g.transpose(b.weight(name), [1, 0]);
  const y = g.matmul(x, weightT); // (batch, seq, out)
  return bias ? g.add(y, b.weight(`${prefix}.bias`)) : y;
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
