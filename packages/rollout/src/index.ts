// @sr1/rollout: the Search-R1 agent loop — generation interleaved with search — producing the
// exact sampled tokens, the mask of inserted tokens and the log-probs that training needs.
// biome-ignore-all assist/source/organizeImports: exports are grouped by topic, not sorted by path

// Interfaces the loop needs (declared in @sr1/spec; the engine, tokenizer and retriever implement them)
export type {
  ChatMessage,
  GenerationFinishReason,
  GenerationRequest,
  GenerationResult,
  Generator,
  OpenedDocument,
  PassageSource,
  Retriever,
  SearchHit,
  Tokenizer,
  ToolSchema,
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

// Tool formats: the paper's tags, or native Hermes tool calls through the chat template
export type { HermesTurns, ToolAction, ToolFormat, ToolName } from './hermes.js';
export {
  HERMES_INVALID_ACTION_MESSAGE,
  HERMES_STOP_STRINGS,
  hermesTurns,
  parseToolCall,
  TOOL_SCHEMAS,
  toolSchemas,
} from './hermes.js';
export { searchUnavailableMessage } from './turn-format.js';

// The loop
export type {
  RolloutConfig,
  RolloutEvent,
  RolloutFinishReason,
  OpenRecord,
  RolloutOptions,
  RolloutPrompt,
  SearchRecord,
  Trajectory,
  TrajectorySource,
} from './rollout.js';
export { DEFAULT_ROLLOUT_CONFIG, passageContainsAnswer, runRollout } from './rollout.js';
export { rolloutMetrics } from './rollout-metrics.js';
export type { AsyncRolloutOptions } from './async-rollout.js';
export { runAsyncRollout } from './async-rollout.js';
export type { SessionGenerator, SessionStartRequest, SessionTurnRequest } from './types.js';
export { sessionsFromGenerator } from './session-generator.js';

// Errors
export {
  GeneratorContractError,
  RetrieverContractError,
  RolloutInputError,
} from './errors.js';
