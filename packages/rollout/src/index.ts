// @sr1/rollout: the Search-R1 agent loop — generation interleaved with search — producing the
// exact sampled tokens, the mask of inserted tokens and the log-probs that training needs.
// biome-ignore-all assist/source/organizeImports: exports are grouped by topic, not sorted by path

// Interfaces the loop needs (satisfied structurally by the engine, tokenizer and retriever)
export type {
  ChatMessage,
  GenerationFinishReason,
  GenerationRequest,
  GenerationResult,
  Generator,
  PassageSource,
  Retriever,
  SearchHit,
  Tokenizer,
} from './types.js';

// Prompts
export type { PromptOptions, PromptPreset, PromptTemplate, TemplateSpec } from './prompt.js';
export { buildPrompt, encodePrompt, normalizeQuestion, PROMPT_TEMPLATES } from './prompt.js';

// Protocol
export type { AgentAction } from './protocol.js';
export {
  ACTION_STOP_STRINGS,
  formatDocuments,
  INVALID_ACTION_MESSAGE,
  informationBlock,
  parseAction,
} from './protocol.js';

// The loop
export type {
  RolloutConfig,
  RolloutEvent,
  RolloutFinishReason,
  RolloutOptions,
  RolloutPrompt,
  SearchRecord,
  Trajectory,
} from './rollout.js';
export { DEFAULT_ROLLOUT_CONFIG, runRollout } from './rollout.js';
export { rolloutMetrics } from './rollout-metrics.js';
export type { AsyncRolloutOptions } from './async-rollout.js';
export { runAsyncRollout } from './async-rollout.js';
export type { SessionGenerator, SessionStartRequest, SessionTurnRequest } from './session-generator.js';
export { sessionsFromGenerator } from './session-generator.js';

// Generators and serving
export type {
  EngineGenerateFn,
  EngineGenerateOptions,
  EngineGeneratorOptions,
  EngineSequence,
} from './engine-generator.js';
export { generatorFromEngine } from './engine-generator.js';
export type { CompletionChoice, OpenAICompletionsGeneratorOptions } from './openai-generator.js';
export { OpenAICompletionsGenerator, parseCompletionChoice } from './openai-generator.js';
export type { CompletionsServer, CompletionsServerOptions } from './openai-server.js';
export { startCompletionsServer } from './openai-server.js';

// Errors
export {
  GeneratorContractError,
  InferenceServerError,
  RetrieverContractError,
  RolloutInputError,
} from './errors.js';
