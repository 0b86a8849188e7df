// @sr1/train: the training loops of sr1 — SFT and the Search-R1 RL update (`rlUpdate`) — over a TrainablePolicy, with checkpoints and metrics.

// @sr1/core's progress display under the name this package has always exported it by.
export { ProgressDisplay as Progress } from '@sr1/core';
export type { ChatMessage } from '@sr1/spec';
export type { CheckpointContents, LoadedCheckpoint } from './checkpoint.js';
// Checkpoints and metrics
export { checkpointStateFields, loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
export type { JsonObject } from './config-fields.js';
// Config reading
export { ConfigReader, readConfigFile } from './config-fields.js';
export { TrainInvariantError } from './errors.js';
export { MetricsWriter } from './metrics.js';
// Run folders and divergence
export { DEFAULT_MAX_NON_FINITE_STEPS, NonFiniteStepGuard, NonFiniteStepsError } from './non-finite.js';
export { readOptimizerState, writeOptimizerState } from './optimizer-state.js';
export type { PolicyForward, TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from './policy.js';
// The engine seam
export { makeTokenBatch } from './policy.js';
export type { RlCallbacks, RlCollected, RlLoopModels, RlOptions, RlState, RlStepMetrics } from './rl.js';
export { INITIAL_RL_STATE, restoreRlState, trainRl } from './rl.js';
export type { RlBatch, RlSample } from './rl-batch.js';
// RL
export { buildRlBatch, gatherResponse, scatterResponse } from './rl-batch.js';
export type { AdvantageEstimator, RlMetrics, RlModels, RlUpdateOptions } from './rl-update.js';
export { rlUpdate } from './rl-update.js';
export { checkRunDir, clearRunHistory, inReferenceOrder, RunExistsError, runHistory } from './run-dir.js';
export type { SftCallbacks, SftOptions, SftState, SftStepMetrics } from './sft.js';
export { epochOrder, INITIAL_SFT_STATE, restoreSftState, trainSft } from './sft.js';
export type { Segment, SftTokenizer, TokenizedExample } from './sft-data.js';
// SFT
export { readSftJsonl, recordToSegments, tokenizeExample } from './sft-data.js';
