// The interfaces the agent loop needs from the outside world, declared once in @sr1/spec (edit
// them there: packages/spec/src). The engine, the retriever and the tokenizer implement them;
// rollout imports none of those packages. Re-exported so rollout's modules and its public API keep
// one import path.

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
  SessionGenerator,
  SessionStartRequest,
  SessionTurnRequest,
  Tokenizer,
  ToolSchema,
} from '@sr1/spec';
