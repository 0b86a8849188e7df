// @sr1/rollout/testing: test doubles for code that drives the agent loop — a scripted Generator
// that records its calls, a small real tokenizer, and a real in-memory BM25 retriever.

export { CHATML_EOS, CHATML_PIECES, qwenChatTemplate } from './chat-template.js';
export type { CorpusDocument } from './in-memory-retriever.js';
export { InMemoryRetriever, SAMPLE_PASSAGES } from './in-memory-retriever.js';
export type { ChatTemplateFunction, PieceTokenizerOptions } from './piece-tokenizer.js';
export { DEFAULT_PIECES, EOS_TEXT, PieceTokenizer } from './piece-tokenizer.js';
export type {
  RecordedRequest,
  RuleBasedGeneratorOptions,
  ScriptedGeneratorOptions,
  ScriptedTurn,
} from './scripted-generator.js';
export { RuleBasedGenerator, ScriptedGenerator, scriptedLogProb } from './scripted-generator.js';
export type { TeacherForcedGeneratorOptions } from './teacher-forced-generator.js';
export { TeacherForcedGenerator } from './teacher-forced-generator.js';
