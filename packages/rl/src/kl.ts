// KL estimators between the policy and the frozen reference, per token, from the log-probs of the
// sampled tokens only (J. Schulman, "Approximating KL Divergence", 2020,
// http://joschu.net/blog/kl-approx.html). Used as a reward penalty (PPO) or a loss term (GRPO).

import { lookupVariant } from '@sr1/core';
import { aggregationWeights, type LossAggregation, weightedSum } from './masking.js';
import { checkNumber, type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import type { Metrics } from './metrics.js';

/** Estimator names; `kl`, `mse` and `low_var_kl` are veRL's names for k1, k2, k3. */
export type KlEstimator = 'k1' | 'k2' | 'k3' | 'kl' | 'abs' | 'mse' | 'low_var_kl';

interface KlFn {
  /** The estimate at one token, from x = log π(a) − log π_ref(a). */
  value(x: number): number;
  /** d value / d log π(a). */
  derivative(x: number): number;
}

const k1: KlFn = { value: (x) => x, derivative: () => 1 };
const k2: KlFn = { value: (x) => 0.5 * x * x, derivative: (x) => x };
/** k3 = e^{−x} + x − 1 ≥ 0, clamped to [−10, 10] as veRL does (zero gradient where clamped). */
const k3: KlFn = {
  value: (x) => Math.min(10, Math.max(-10, Math.exp(-x) + x - 1)),
  derivative: (x) => (Math.exp(-x) + x - 1 > 10 ? 0 : 1 - Math.exp(-x)),
};

const KL_ESTIMATORS = {
  k1,
  k2,
  k3,
  kl: k1,
  mse: k2,
  low_var_kl: k3,
  abs: { value: (x) => Math.abs(x), derivative: (x) => Math.sign(x) },
} satisfies Record<KlEstimator, KlFn>;

/** Every estimator name. */
export const KL_ESTIMATOR_NAMES = Object.keys(KL_ESTIMATORS) as KlEstimator[];

export interface KlInputs {
  /** log π(a_t) of the sampled tokens under the policy; shape (batch, responseLength). */
  logProbs: Matrix;
  /** log π_ref(a_t) under the frozen reference model; shape (batch, responseLength). */
  refLogProbs: Matrix;
  /** 1 = token the policy sampled, where the KL counts (retrieved tokens 0); shape (batch, responseLength). */
  sampledMask: Matrix;
}

/**
 * The per-token KL estimate, 0 outside the mask:
 * k1 = log π − log π_ref (unbiased, high variance); k2 = ½(log π − log π_ref)²;
 * k3 = π_ref/π − log(π_ref/π) − 1 (unbiased, low variance, ≥ 0; veRL's `low_var_kl`).
 * @returns shape (batch, responseLength)
 */
export function klPenalty(inputs: KlInputs, estimator: KlEstimator): Float64Matrix {
  const [batch, length] = sameShape(
    [inputs.sampledMask, 'sampledMask'],
    [inputs.logProbs, 'logProbs'],
    [inputs.refLogProbs, 'refLogProbs'],
  );
  const fn = lookupVariant<KlFn>(KL_ESTIMATORS, estimator, 'KL estimator', 'estimator');
  const data = new Float64Array(batch * length);
  for (let i = 0; i < data.length; i++) {
    if (inputs.sampledMask.data[i] === 0) continue;
    data[i] = fn.value(inputs.logProbs.data[i]! - inputs.refLogProbs.data[i]!);
  }
  return { shape: [batch, length], data };
}

export interface KlRewardInputs extends KlInputs {
  /** Token-level task scores (outcome reward on the last token); shape (batch, responseLength). */
  tokenLevelScores: Matrix;
  /** β; the paper's PPO value is 0.001. */
  klCoef: number;
  estimator?: KlEstimator;
}

/**
 * KL as a reward penalty, for PPO (Ouyang et al. 2022; the reference's `apply_kl_penalty`):
 * rewards = scores − β·KL per token, before GAE. `logProbs` are the rollout (old) policy's.
 * Metrics: `critic/kl` (per-sequence masked mean, averaged over the batch) and `critic/kl_coeff`.
 * @returns token-level rewards, shape (batch, responseLength)
 */
export function applyKlPenalty(inputs: KlRewardInputs): {
  tokenLevelRewards: Float64Matrix;
  metrics: Metrics;
} {
  const [batch, length] = sameShape(
    [inputs.sampledMask, 'sampledMask'],
    [inputs.tokenLevelScores, 'tokenLevelScores'],
  );
  const klCoef = checkNumber(inputs.klCoef, 'klCoef', 0);
  const kl = klPenalty(inputs, inputs.estimator ?? 'k1'); // the paper's PPO runs use k1
  const rewards = new Float64Array(batch * length);
  let klSum = 0;
  for (let b = 0; b < batch; b++) {
    let rowSum = 0;
    let rowCount = 0;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      rewards[i] = inputs.tokenLevelScores.data[i]! - klCoef * kl.data[i]!;
      const m = inputs.sampledMask.data[i]!;
      if (m !== 0) {
        rowSum += m * kl.data[i]!;
        rowCount += m;
      }
    }
    klSum += rowCount === 0 ? 0 : rowSum / rowCount;
  }
  return {
    tokenLevelRewards: { shape: [batch, length], data: rewards },
    metrics: { 'critic/kl': batch === 0 ? 0 : klSum / batch, 'critic/kl_coeff': klCoef },
  };
}

export interface KlLossInputs extends KlInputs {
  estimator?: KlEstimator;
  aggregation?: LossAggregation;
}

export interface KlLossOutputs {
  /** The aggregated KL estimate (multiply by the coefficient when adding it to the actor loss). */
  loss: number;
  /** dLoss/dLogProbs, 0 outside the mask; shape (batch, responseLength). */
  gradLogProbs: Float64Matrix;
  metrics: Metrics;
}

/**
 * KL as a loss term, for GRPO (Shao et al. 2024): aggregate(KL(π‖π_ref)) under the mask, with its
 * gradient with respect to the policy's per-token log-probs (π_ref is frozen).
 */
export function klLoss(inputs: KlLossInputs): KlLossOutputs {
  const [batch, length] = sameShape(
    [inputs.sampledMask, 'sampledMask'],
    [inputs.logProbs, 'logProbs'],
    [inputs.refLogProbs, 'refLogProbs'],
  );
  const estimator = inputs.estimator ?? 'k3'; // the paper's GRPO runs: low_var_kl
  const fn = lookupVariant<KlFn>(KL_ESTIMATORS, estimator, 'KL estimator', 'estimator');
  const weights = aggregationWeights(inputs.sampledMask, inputs.aggregation ?? 'token-mean');
  const kl = klPenalty(inputs, estimator);
  const grad = new Float64Array(batch * length);
  for (let i = 0; i < grad.length; i++) {
    const w = weights[i]!;
    if (w !== 0) grad[i] = w * fn.derivative(inputs.logProbs.data[i]! - inputs.refLogProbs.data[i]!);
  }
  const loss = weightedSum(kl.data, weights);
  return { loss, gradLogProbs: { shape: [batch, length], data: grad }, metrics: { 'actor/kl_loss': loss } };
}
