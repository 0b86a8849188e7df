// The small interfaces the agent loop needs from the outside world. The engine, the retriever
// and the tokenizer packages satisfy them structurally; rollout imports none of them.

/** One chat turn, as a tokenizer's chat template takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/**
 * Text ↔ token ids. The rollout tokenises only what it inserts (prompt, information blocks,
 * the invalid-action message); generated tokens come from the `Generator` as sampled.
 */
export interface Tokenizer {
  /** Ids that end a sequence. */
  readonly eosTokenIds: readonly number[];
  /** Text → ids, without special tokens added. */
  encode(text: string): number[];
  /** Ids → text. */
  decode(ids: readonly number[]): string;
  /** Whether `applyChatTemplate` can be used (the reference applies it when the tokenizer has one). */
  readonly hasChatTemplate?: boolean;
  /** Renders a conversation with the tokenizer's chat template. */
  applyChatTemplate?(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}

/** Why a generator stopped one sequence. */
export type GenerationFinishReason = 'stop' | 'eos' | 'length';

/** A batch of continuations to generate. */
export interface GenerationRequest {
  /** Prompt token ids, one list per sequence. */
  prompts: readonly (readonly number[])[];
  /**
   * A key per sequence that is stable across the turns of one trajectory (the rollout's
   * trajectory id), so a generator can reuse a prefix cache or a test double can follow a script.
   */
  keys: readonly string[];
  /** Upper bound on new tokens per sequence. */
  maxNewTokens: number;
  /**
   * Stop strings: a sequence stops right after the token whose decoding completes one of them.
   * That token is returned (the text may then run a few characters past the stop string).
   */
  stop: readonly string[];
  temperature: number;
  topP: number;
  /** Seed for sampling, when the generator supports it. */
  seed?: number;
  /** Called as tokens arrive, by generators that stream; `sequence` indexes `prompts`. */
  onDelta?: (sequence: number, delta: { text: string; tokenIds: readonly number[] }) => void;
  signal?: AbortSignal;
  /**
   * Per-sequence cancellation, indexed like `prompts` (a server's client that disconnected). A
   * generator that supports it stops computing an aborted sequence and returns what it has, with
   * finishReason 'length'; one that does not ignores it. `signal` still cancels the whole call.
   */
  sequenceSignals?: readonly (AbortSignal | undefined)[];
}

/** What a generator returns for one sequence. */
export interface GenerationResult {
  /** The new token ids exactly as sampled, including the token that completed a stop string or EOS. */
  tokenIds: number[];
  /** The decoded text of `tokenIds`. */
  text: string;
  /** log π(token) of each sampled token under the sampling distribution; same length as `tokenIds`. */
  logProbs: number[];
  finishReason: GenerationFinishReason;
  /**
   * `false` when the ids were not sampled ids but rebuilt by re-encoding text (a server that only
   * returns text); such output must not be trained on. Absent means true.
   */
  tokenExact?: boolean;
}

/** Batched generation from token-id prompts. */
export interface Generator {
  generate(request: GenerationRequest): Promise<GenerationResult[]>;
}

/** One retrieved passage, as `@sr1/retriever` returns it. */
export interface SearchHit {
  /** Corpus id. */
  id: string;
  /** First line of `contents` without its quotes. */
  title: string;
  /** `contents` after the first line. */
  text: string;
  /** The raw corpus `contents` ("\"Title\"\ntext"). */
  contents: string;
  /** Retrieval score; higher is better. */
  score: number;
  /** Where the passage came from, when the retriever knows (e.g. an index made by `sr1-retriever ingest`). */
  source?: PassageSource;
}

/** The source of a retrieved passage: file, title, headings above it, character offsets in its document. */
export interface PassageSource {
  path: string;
  title: string;
  headingPath: string[];
  start: number;
  end: number;
  /** 1-based PDF page where the passage starts. */
  page?: number;
  /** 1-based line of a JSONL record. */
  line?: number;
}

/** Batched search: per query, up to `topk` hits, best first. */
export interface Retriever {
  search(queries: readonly string[], topk: number): Promise<SearchHit[][]>;
}
