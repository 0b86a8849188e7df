// PPO's clipped surrogate policy loss (Schulman et al. 2017, arXiv 1707.06347), optionally with
// dual clip (Ye et al. 2020, "Mastering Complex Control in MOBA Games with Deep RL",
// arXiv 1912.09729), under the loss mask, with its gradient with respect to the log-probs.

import { RlInputError } from './errors.js';
import { aggregationWeights, type LossAggregation, maskedMean, weightedSum } from './masking.js';
import { checkNumber, type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import type { Metrics } from './metrics.js';

export interface PolicyLossInputs {
  /** log π_θ(a_t) under the policy being trained; shape (batch, responseLength). */
  logProbs: Matrix;
  /** log π_old(a_t) under the rollout policy; shape (batch, responseLength). */
  oldLogProbs: Matrix;
  /** Advantages; shape (batch, responseLength). */
  advantages: Matrix;
  /** 1 = token the policy sampled (trained on), 0 = padding or retrieved; shape (batch, responseLength). */
  sampledMask: Matrix;
  /** ε of the clip range [1 − ε, 1 + ε]; the paper's 0.2. */
  clipRatio?: number;
  /** Lower ε when asymmetric (DAPO's clip-higher); defaults to `clipRatio`. */
  clipRatioLow?: number;
  /** Upper ε when asymmetric; defaults to `clipRatio`. */
  clipRatioHigh?: number;
  /** Bound the loss of negative-advantage tokens by −A·c (dual clip). Off in the reference. */
  dualClip?: boolean;
  /** c of dual clip; 3 as Ye et al. and veRL. Must exceed 1. */
  dualClipC?: number;
  aggregation?: LossAggregation;
}

export interface PolicyLossOutputs {
  /** The aggregated clipped surrogate loss. */
  loss: number;
  /** dLoss/dLogProbs, 0 outside the mask; shape (batch, responseLength). */
  gradLogProbs: Float64Matrix;
  /** The per-token losses before aggregation, 0 outside the mask; shape (batch, responseLength). */
  lossMatrix: Float64Matrix;
  metrics: Metrics;
}

/**
 * Per token, with r = exp(log π_θ − log π_old):
 * ℓ = max(−A·r, −A·clip(r, 1 − ε_low, 1 + ε_high)); with dual clip and A < 0, ℓ = min(ℓ, −A·c).
 * The gradient is −A·r where the unclipped branch is active, 0 where a clip is.
 * Metrics: `actor/pg_loss`, `actor/pg_clipfrac`, `actor/pg_clipfrac_lower` (dual clip active),
 * `actor/ppo_kl` (masked mean of log π_old − log π_θ).
 */
export function ppoPolicyLoss(inputs: PolicyLossInputs): PolicyLossOutputs {
  const { logProbs, oldLogProbs, advantages, sampledMask } = inputs;
  const [batch, length] = sameShape(
    [sampledMask, 'sampledMask'],
    [logProbs, 'logProbs'],
    [oldLogProbs, 'oldLogProbs'],
    [advantages, 'advantages'],
  );
  const clipRatio = checkNumber(inputs.clipRatio ?? 0.2, 'clipRatio', 0, 1); // the paper's ε
  const low = 1 - checkNumber(inputs.clipRatioLow ?? clipRatio, 'clipRatioLow', 0, 1);
  const high = 1 + checkNumber(inputs.clipRatioHigh ?? clipRatio, 'clipRatioHigh', 0);
  const dualClip = inputs.dualClip ?? false; // the reference has no dual clip
  const c = checkNumber(inputs.dualClipC ?? 3, 'dualClipC'); // Ye et al.'s and veRL's constant
  if (dualClip && !(c > 1)) throw new RlInputError('dualClipC', `dual clip needs c > 1, got ${c}`);

  const weights = aggregationWeights(sampledMask, inputs.aggregation ?? 'token-mean');
  const lossMatrix = new Float64Array(batch * length);
  const grad = new Float64Array(batch * length);
  const clipped = new Float64Array(batch * length);
  const dualClipped = new Float64Array(batch * length);
  const negativeKl = new Float64Array(batch * length);
  for (let i = 0; i < lossMatrix.length; i++) {
    if (sampledMask.data[i] === 0) continue;
    const logRatio = logProbs.data[i]! - oldLogProbs.data[i]!;
    const ratio = Math.exp(logRatio);
    const advantage = advantages.data[i]!;
    const unclippedLoss = -advantage * ratio;
    const clippedLoss = -advantage * Math.min(high, Math.max(low, ratio));
    let loss = unclippedLoss;
    let slope = -advantage * ratio; // d(−A·r)/d log π = −A·r
    if (clippedLoss > unclippedLoss) {
      loss = clippedLoss;
      slope = 0;
      clipped[i] = 1;
    }
    if (dualClip && advantage < 0 && loss > -advantage * c) {
      loss = -advantage * c;
      slope = 0;
      dualClipped[i] = 1;
    }
    lossMatrix[i] = loss;
    grad[i] = weights[i]! * slope;
    negativeKl[i] = -logRatio;
  }
  const loss = weightedSum(lossMatrix, weights);
  const shape: [number, number] = [batch, length];
  return {
    loss,
    gradLogProbs: { shape, data: grad },
    lossMatrix: { shape, data: lossMatrix },
    metrics: {
      'actor/pg_loss': loss,
      'actor/pg_clipfrac': maskedMean({ shape, data: clipped }, sampledMask),
      'actor/pg_clipfrac_lower': maskedMean({ shape, data: dualClipped }, sampledMask),
      'actor/ppo_kl': maskedMean({ shape, data: negativeKl }, sampledMask),
    },
  };
}
