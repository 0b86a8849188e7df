// Advantage estimators looked up by name, as veRL's `register_adv_est`: one signature for GAE
// (which needs a critic's values) and the outcome estimators GRPO and RLOO (which need prompt
// groups), so a trainer picks one from its config without an if/else of its own.

import { lookupVariant } from '@sr1/core';
import { RlInputError } from './errors.js';
import { computeGaeAdvantages } from './gae-advantage.js';
import { computeGrpoAdvantages, computeRlooAdvantages } from './group-advantage.js';
import type { Float64Matrix, Matrix } from './matrix.js';
import type { Metrics } from './metrics.js';

/** Names of the advantage estimators (veRL's `adv_estimator`). */
export type AdvantageEstimator = 'gae' | 'grpo' | 'rloo';

export interface AdvantageInputs {
  /** One outcome reward per response, shape (batch). */
  scores: ArrayLike<number>;
  /** Per-token rewards (outcome on the last token, minus any KL penalty); shape (batch, responseLength). */
  tokenLevelRewards: Matrix;
  /** The critic's values V(s_t); shape (batch, responseLength). Required when `needsCritic`. */
  values?: Matrix;
  /** Which prompt each response answers, shape (batch); equal ids form a group. */
  promptIds: readonly string[];
  /**
   * 1 = response token the advantage covers, shape (batch, responseLength). Search-R1 passes every
   * real response token (retrieved ones included) to every estimator.
   */
  tokenMask: Matrix;
  gamma?: number; // GAE's γ; see computeGaeAdvantages
  lambda?: number; // GAE's λ; see computeGaeAdvantages
  /** GRPO divides by the group std; false is Dr.GRPO. See computeGrpoAdvantages. */
  normalizeByStd?: boolean;
}

export interface AdvantageOutputs {
  /** shape (batch, responseLength), 0 outside the mask. */
  advantages: Float64Matrix;
  /** Value targets (GAE) or the advantages again (outcome estimators); shape (batch, responseLength). */
  returns: Float64Matrix;
  metrics: Metrics;
}

export interface AdvantageEstimatorSpec {
  /** True when the estimator reads `values`, so the trainer must run (and train) a critic. */
  needsCritic: boolean;
  compute(inputs: AdvantageInputs): AdvantageOutputs;
}

const ADVANTAGE_ESTIMATORS = {
  /** GAE (Schulman et al. 2016, arXiv 1506.02438): the paper's PPO. */
  gae: {
    needsCritic: true,
    compute: (inputs) => {
      if (inputs.values === undefined) {
        throw new RlInputError('values', "the 'gae' advantage estimator needs the critic's values");
      }
      return computeGaeAdvantages({
        tokenLevelRewards: inputs.tokenLevelRewards,
        values: inputs.values,
        tokenMask: inputs.tokenMask,
        ...(inputs.gamma !== undefined ? { gamma: inputs.gamma } : {}),
        ...(inputs.lambda !== undefined ? { lambda: inputs.lambda } : {}),
      });
    },
  },
  /** GRPO's group-normalised outcome advantage (Shao et al. 2024, arXiv 2402.03300). */
  grpo: {
    needsCritic: false,
    compute: (inputs) =>
      computeGrpoAdvantages({
        scores: inputs.scores,
        promptIds: inputs.promptIds,
        tokenMask: inputs.tokenMask,
        ...(inputs.normalizeByStd !== undefined ? { normalizeByStd: inputs.normalizeByStd } : {}),
      }),
  },
  /** RLOO's leave-one-out baseline (Ahmadian et al. 2024, arXiv 2402.14740). */
  rloo: {
    needsCritic: false,
    compute: (inputs) =>
      computeRlooAdvantages({
        scores: inputs.scores,
        promptIds: inputs.promptIds,
        tokenMask: inputs.tokenMask,
      }),
  },
} satisfies Record<AdvantageEstimator, AdvantageEstimatorSpec>;

/** Every advantage estimator's name, in the order errors list them. */
export const ADVANTAGE_ESTIMATOR_NAMES = Object.keys(ADVANTAGE_ESTIMATORS) as AdvantageEstimator[];

/**
 * The estimator registered under `name`; an unknown name is an InvalidInputError (code
 * `unknown_variant`, field `advantage`) listing the valid ones.
 */
export function advantageEstimator(name: string): AdvantageEstimatorSpec {
  return lookupVariant<AdvantageEstimatorSpec>(
    ADVANTAGE_ESTIMATORS,
    name,
    'advantage estimator',
    'advantage',
  );
}

/** Advantages and returns by the estimator named `name` (see `advantageEstimator`). */
export function computeAdvantages(name: string, inputs: AdvantageInputs): AdvantageOutputs {
  return advantageEstimator(name).compute(inputs);
}
