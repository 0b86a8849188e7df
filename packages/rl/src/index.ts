// @sr1/rl: the RL maths of Search-R1 as pure functions over (batch, responseLength) typed arrays —
// advantages, PPO/GRPO losses, KL estimators — each returning its value, its gradient with respect
// to the per-token log-probs (or values) and namespaced metrics. Masking lives in one place.
// biome-ignore-all assist/source/organizeImports: exports are grouped by topic, not sorted by path

// Tensors
export type { Float64Matrix, Matrix } from './matrix.js';
export { matrixFromRows, matrixToRows, zerosMatrix } from './matrix.js';
export type { Metrics } from './metrics.js';

// Masking and aggregation
export type { LossAggregation } from './masking.js';
export {
  aggregateLoss,
  aggregationWeights,
  LOSS_AGGREGATIONS,
  maskedMean,
  maskedSum,
  maskedVar,
  maskedWhiten,
} from './masking.js';

// Rewards and advantages
export { placeOutcomeReward, sequenceScores } from './outcome-reward.js';
export type { GaeInputs, GaeOutputs } from './gae-advantage.js';
export { computeGaeAdvantages } from './gae-advantage.js';
export type { GroupAdvantageInputs, GroupAdvantageOutputs, GrpoOptions } from './group-advantage.js';
export { computeGrpoAdvantages, computeRlooAdvantages } from './group-advantage.js';
export type {
  AdvantageEstimator,
  AdvantageEstimatorSpec,
  AdvantageInputs,
  AdvantageOutputs,
} from './advantage-estimator.js';
export { ADVANTAGE_ESTIMATOR_NAMES, advantageEstimator, computeAdvantages } from './advantage-estimator.js';

// KL
export type { KlEstimator, KlInputs, KlLossInputs, KlLossOutputs, KlRewardInputs } from './kl.js';
export { applyKlPenalty, KL_ESTIMATOR_NAMES, klLoss, klPenalty } from './kl.js';
export type { AdaptiveKlOptions } from './kl-controller.js';
export { adaptiveKlCoef } from './kl-controller.js';

// Losses
export type { PolicyLossInputs, PolicyLossOutputs } from './policy-loss.js';
export { ppoPolicyLoss } from './policy-loss.js';
export type { ValueLossInputs, ValueLossOutputs } from './value-loss.js';
export { clippedValueLoss } from './value-loss.js';
export type { EntropyInputs } from './entropy-loss.js';
export { entropyLoss } from './entropy-loss.js';
export type { ActorLossInputs, ActorLossOutputs } from './actor-loss.js';
export { actorLoss } from './actor-loss.js';

// Errors
export { RlInputError } from './errors.js';
