// The whole actor objective in one call, the form the engine's training step takes:
// loss = pg_loss − entropyCoef·entropy + klLossCoef·kl_loss, and its gradients with respect to the
// per-token log-probs and entropies. The maths stays in the functions it composes.

import { entropyLoss } from './entropy-loss.js';
import { RlInputError } from './errors.js';
import { type KlEstimator, klLoss } from './kl.js';
import type { LossAggregation } from './masking.js';
import { checkNumber, type Float64Matrix, type Matrix } from './matrix.js';
import type { Metrics } from './metrics.js';
import { type PolicyLossInputs, ppoPolicyLoss } from './policy-loss.js';

export interface ActorLossInputs extends PolicyLossInputs {
  /** Per-token entropies of the policy; needed when `entropyCoef` ≠ 0; shape (batch, responseLength). */
  entropies?: Matrix;
  /** The paper's 0.001; 0 turns the bonus off. */
  entropyCoef?: number;
  /** Reference log-probs; needed when `klLossCoef` ≠ 0; shape (batch, responseLength). */
  refLogProbs?: Matrix;
  /** KL loss coefficient: the paper's GRPO runs use 0.001, PPO runs 0 (their KL is in the reward). */
  klLossCoef?: number;
  klEstimator?: KlEstimator;
}

export interface ActorLossOutputs {
  loss: number;
  /** dLoss/dLogProbs, 0 outside the mask; shape (batch, responseLength). */
  gradLogProbs: Float64Matrix;
  /** dLoss/dEntropies, 0 outside the mask (all 0 when the bonus is off); shape (batch, responseLength). */
  gradEntropies: Float64Matrix;
  metrics: Metrics;
}

/** PPO/GRPO actor loss with entropy bonus and optional KL loss, all under the same mask and aggregation. */
export function actorLoss(inputs: ActorLossInputs): ActorLossOutputs {
  const aggregation: LossAggregation = inputs.aggregation ?? 'token-mean';
  const entropyCoef = checkNumber(inputs.entropyCoef ?? 0.001, 'entropyCoef'); // the paper's value
  const klLossCoef = checkNumber(inputs.klLossCoef ?? 0, 'klLossCoef', 0); // PPO default; GRPO uses 0.001
  const policy = ppoPolicyLoss({ ...inputs, aggregation });
  const [batch, length] = policy.gradLogProbs.shape;
  const gradLogProbs = policy.gradLogProbs.data.slice();
  let gradEntropies = new Float64Array(batch * length);
  let loss = policy.loss;
  const metrics: Metrics = { ...policy.metrics };

  if (entropyCoef !== 0 && inputs.entropies === undefined) {
    throw new RlInputError('entropies', 'entropyCoef is not 0, so per-token entropies are needed');
  }
  if (inputs.entropies !== undefined) {
    // Computed whenever given, so `actor/entropy` is logged even with the bonus off.
    const entropy = entropyLoss({
      entropies: inputs.entropies,
      sampledMask: inputs.sampledMask,
      aggregation,
    });
    loss -= entropyCoef * entropy.loss;
    if (entropyCoef !== 0) gradEntropies = entropy.gradEntropies.data.map((g) => -entropyCoef * g);
    Object.assign(metrics, entropy.metrics);
  }
  if (klLossCoef !== 0) {
    if (inputs.refLogProbs === undefined) {
      throw new RlInputError('refLogProbs', 'klLossCoef is not 0, so reference log-probs are needed');
    }
    const kl = klLoss({
      logProbs: inputs.logProbs,
      refLogProbs: inputs.refLogProbs,
      sampledMask: inputs.sampledMask,
      estimator: inputs.klEstimator ?? 'k3', // the paper's GRPO runs: low_var_kl
      aggregation,
    });
    loss += klLossCoef * kl.loss;
    for (let i = 0; i < gradLogProbs.length; i++) gradLogProbs[i]! += klLossCoef * kl.gradLogProbs.data[i]!;
    Object.assign(metrics, kl.metrics, { 'actor/kl_coef': klLossCoef });
  }
  metrics['actor/loss'] = loss;
  return {
    loss,
    gradLogProbs: { shape: [batch, length], data: gradLogProbs },
    gradEntropies: { shape: [batch, length], data: gradEntropies },
    metrics,
  };
}
