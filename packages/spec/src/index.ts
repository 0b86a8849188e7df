// @sr1/spec: the contracts sr1's packages share, declared once. Types only, plus the Search-R1
// instruction text (a constant both sides of the protocol must agree on byte for byte); no runtime
// dependency. Providers `implements` these interfaces; consumers import them from here.

export type {
  GenerationFinishReason,
  GenerationRequest,
  GenerationResult,
  Generator,
  SessionGenerator,
  SessionStartRequest,
  SessionTurnRequest,
} from './generation.js';
export type { PolicyForward, TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from './policy.js';
export { SEARCH_R1_INSTRUCTION } from './protocol.js';
export type { OpenedDocument, PassageSource, Retriever, SearchHit } from './search.js';
export type { ChatMessage, Tokenizer, ToolSchema } from './text.js';
export type {
  OpenRecord,
  RolloutFinishReason,
  SearchRecord,
  Trajectory,
  TrajectorySource,
} from './trajectory.js';
