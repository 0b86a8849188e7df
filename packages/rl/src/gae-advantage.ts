// Generalised Advantage Estimation (Schulman et al. 2016, arXiv 1506.02438) over a batch of
// responses, with the masked recursion of later veRL: a position outside the mask is skipped, so
// the recursion runs over the kept tokens only, and advantages are whitened over the mask.

import { maskedWhiten } from './masking.js';
import { checkNumber, type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import type { Metrics } from './metrics.js';
import { describeMasked } from './metrics.js';

export interface GaeInputs {
  /** Per-token rewards (outcome reward on the last token, minus any KL penalty); shape (batch, responseLength). */
  tokenLevelRewards: Matrix;
  /** The critic's values V(s_t) at the rollout; shape (batch, responseLength). */
  values: Matrix;
  /**
   * 1 = a step of the recursion, 0 = skipped; shape (batch, responseLength). Pass the token mask
   * (every real response token: padding 0, retrieved tokens 1) to reproduce Search-R1, where
   * retrieved tokens still count for the critic and GAE; pass the sampled mask to step over them.
   */
  tokenMask: Matrix;
  gamma?: number;
  lambda?: number;
  /** Whiten advantages over the mask (veRL does; default true). */
  whiten?: boolean;
}

export interface GaeOutputs {
  /** Whitened advantages, 0 outside the mask; shape (batch, responseLength). */
  advantages: Float64Matrix;
  /** Value targets: un-whitened advantages + values, 0 outside the mask; shape (batch, responseLength). */
  returns: Float64Matrix;
  metrics: Metrics;
}

/**
 * GAE: δ_t = r_t + γ V(s_{t+1}) − V(s_t), A_t = δ_t + γλ A_{t+1}, both taken over the next
 * position *inside the mask* (0 past the last one); returns R_t = A_t + V(s_t).
 * With a mask of trailing padding this is exactly veRL's `compute_gae_advantage_return`.
 */
export function computeGaeAdvantages(inputs: GaeInputs): GaeOutputs {
  const { tokenLevelRewards, values, tokenMask } = inputs;
  const [batch, length] = sameShape(
    [tokenMask, 'tokenMask'],
    [tokenLevelRewards, 'tokenLevelRewards'],
    [values, 'values'],
  );
  const gamma = checkNumber(inputs.gamma ?? 1, 'gamma', 0, 1); // the paper's γ = 1: one outcome reward
  const lambda = checkNumber(inputs.lambda ?? 1, 'lambda', 0, 1); // the paper's λ = 1 (Monte-Carlo returns)
  const raw = new Float64Array(batch * length);
  const returns = new Float64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let nextValue = 0;
    let nextAdvantage = 0;
    for (let t = length - 1; t >= 0; t--) {
      const i = b * length + t;
      if (tokenMask.data[i] === 0) continue;
      const value = values.data[i]!;
      const delta = tokenLevelRewards.data[i]! + gamma * nextValue - value;
      const advantage = delta + gamma * lambda * nextAdvantage;
      raw[i] = advantage;
      returns[i] = advantage + value;
      nextValue = value;
      nextAdvantage = advantage;
    }
  }
  const advantageMatrix = { shape: [batch, length] as [number, number], data: raw };
  const advantages = (inputs.whiten ?? true) ? maskedWhiten(advantageMatrix, tokenMask) : raw;
  return {
    advantages: { shape: [batch, length], data: advantages },
    returns: { shape: [batch, length], data: returns },
    metrics: {
      ...describeMasked('critic/advantages', advantages, tokenMask.data),
      ...describeMasked('critic/returns', returns, tokenMask.data),
      ...describeMasked('critic/values', values.data, tokenMask.data),
    },
  };
}
