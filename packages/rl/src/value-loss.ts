// The critic's clipped value loss (as in OpenAI's PPO baselines and veRL's `compute_value_loss`),
// under the mask, with its gradient with respect to the predicted values.

import { aggregationWeights, type LossAggregation, maskedMean, weightedSum } from './masking.js';
import { checkNumber, type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import type { Metrics } from './metrics.js';

export interface ValueLossInputs {
  /** V_φ(s_t) predicted by the critic being trained; shape (batch, responseLength). */
  values: Matrix;
  /** V(s_t) at rollout time; shape (batch, responseLength). */
  oldValues: Matrix;
  /** Value targets from GAE; shape (batch, responseLength). */
  returns: Matrix;
  /** 1 = real response token the critic learns on (Search-R1: inserted ones too), 0 = padding; shape (batch, responseLength). */
  tokenMask: Matrix;
  /** How far the new value may move from the old one before the clipped branch takes over. */
  clipRange?: number;
  aggregation?: LossAggregation;
}

export interface ValueLossOutputs {
  loss: number;
  /** dLoss/dValues, 0 outside the mask; shape (batch, responseLength). */
  gradValues: Float64Matrix;
  metrics: Metrics;
}

/**
 * ℓ = ½·max((V − R)², (clip(V, V_old − c, V_old + c) − R)²), aggregated under the mask.
 * The gradient is (V − R) where the unclipped branch is active, 0 where the clipped one is.
 * Metrics: `critic/vf_loss`, `critic/vf_clipfrac`, `critic/vpred_mean`.
 */
export function clippedValueLoss(inputs: ValueLossInputs): ValueLossOutputs {
  const { values, oldValues, returns, tokenMask } = inputs;
  const [batch, length] = sameShape(
    [tokenMask, 'tokenMask'],
    [values, 'values'],
    [oldValues, 'oldValues'],
    [returns, 'returns'],
  );
  const clipRange = checkNumber(inputs.clipRange ?? 0.5, 'clipRange', 0); // the reference's cliprange_value
  const weights = aggregationWeights(tokenMask, inputs.aggregation ?? 'token-mean');
  const lossMatrix = new Float64Array(batch * length);
  const grad = new Float64Array(batch * length);
  const clipped = new Float64Array(batch * length);
  for (let i = 0; i < lossMatrix.length; i++) {
    if (tokenMask.data[i] === 0) continue;
    const value = values.data[i]!;
    const old = oldValues.data[i]!;
    const target = returns.data[i]!;
    const clippedValue = Math.min(old + clipRange, Math.max(old - clipRange, value));
    const unclippedLoss = (value - target) ** 2;
    const clippedLoss = (clippedValue - target) ** 2;
    if (clippedLoss > unclippedLoss) {
      // Only possible when the value left the clip range, where the clipped branch is constant.
      lossMatrix[i] = 0.5 * clippedLoss;
      clipped[i] = 1;
    } else {
      lossMatrix[i] = 0.5 * unclippedLoss;
      grad[i] = weights[i]! * (value - target);
    }
  }
  const loss = weightedSum(lossMatrix, weights);
  const shape: [number, number] = [batch, length];
  return {
    loss,
    gradValues: { shape, data: grad },
    metrics: {
      'critic/vf_loss': loss,
      'critic/vf_clipfrac': maskedMean({ shape, data: clipped }, tokenMask),
      'critic/vpred_mean': maskedMean(values, tokenMask),
    },
  };
}
