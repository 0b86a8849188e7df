// @sr1/reward: scores Search-R1 responses against gold answers the way the reference does.

export type { BatchAggregate, BatchScore, ItemScore, ScoreItem } from './batch.js';
// Batches
export { scoreBatch, scoreResponse } from './batch.js';
// Errors
export { RewardInputError } from './errors.js';
// Reading responses
export { extractAnswer, extractInformationBlocks } from './extract.js';
export type { FormatCheck, FormatRewardOptions } from './format.js';
// Format check and rewards
export { exactMatchReward, formatReward, isRetrievalCorrect, validateFormat } from './format.js';
export { exactMatch, f1Score, substringExactMatch } from './metrics.js';
// Normalisation and answer-level metrics
export { normalizeAnswer } from './normalize.js';
export type {
  AdditiveSearchCost,
  CostedReward,
  NoSearchCost,
  OtcSearchCost,
  SearchCost,
  SearchCostInput,
  SearchCostKind,
} from './search-cost.js';
// A per-search cost in the reward (additive or OTC)
export {
  applySearchCost,
  MinimalSearches,
  otcToolFactor,
  parseSearchCost,
  SEARCH_COST_KINDS,
  SEARCH_COSTS,
  validateSearchCost,
} from './search-cost.js';
