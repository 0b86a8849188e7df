// The entropy bonus under the mask. The engine computes per-token entropies of the policy's
// distribution from its logits; this aggregates them and returns dLoss/dEntropy for the engine
// to carry back through its softmax.

import { aggregationWeights, type LossAggregation, weightedSum } from './masking.js';
import { type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import type { Metrics } from './metrics.js';

export interface EntropyInputs {
  /** H(π_θ(·|s_t)) per token; shape (batch, responseLength). */
  entropies: Matrix;
  /** 1 = token the policy sampled (the loss's tokens), 0 = padding or inserted; shape (batch, responseLength). */
  sampledMask: Matrix;
  aggregation?: LossAggregation;
}

/**
 * The aggregated entropy (the actor loss subtracts `entropyCoef` times it) and its gradient with
 * respect to the per-token entropies (the aggregation weights). Metric: `actor/entropy`.
 */
export function entropyLoss(inputs: EntropyInputs): {
  loss: number;
  /** dLoss/dEntropies, 0 outside the mask; shape (batch, responseLength). */
  gradEntropies: Float64Matrix;
  metrics: Metrics;
} {
  const [batch, length] = sameShape([inputs.sampledMask, 'sampledMask'], [inputs.entropies, 'entropies']);
  const weights = aggregationWeights(inputs.sampledMask, inputs.aggregation ?? 'token-mean');
  const loss = weightedSum(inputs.entropies.data, weights);
  return {
    loss,
    gradEntropies: { shape: [batch, length], data: weights },
    metrics: { 'actor/entropy': loss },
  };
}
