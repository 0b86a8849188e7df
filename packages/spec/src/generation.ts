// Generation: batched calls from token-id prompts (`Generator`), and sessions that keep a
// trajectory's context between turns (`SessionGenerator`). `@sr1/model` implements both over its
// engine (`generatorFromEngine`, the OpenAI-compatible client, the continuous-batching scheduler);
// `@sr1/rollout` drives them.

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

/** The sampling and stopping of one turn. */
export interface SessionTurnRequest {
  maxNewTokens: number;
  /** A turn stops right after the token whose decoding completes one of these (kept). */
  stop: readonly string[];
  temperature: number;
  topP: number;
  /** Seed for this turn's sampling, when the generator supports it. */
  seed?: number;
  /** Called as tokens arrive, by generators that stream. */
  onDelta?: (delta: { text: string; tokenIds: readonly number[] }) => void;
  signal?: AbortSignal;
}

/** The first turn of a session. */
export interface SessionStartRequest extends SessionTurnRequest {
  /** The trajectory's id: stable across its turns (a test double follows its script by it). */
  key: string;
  promptTokenIds: readonly number[];
}

/** Generation as sessions: one per trajectory, continued turn after turn. */
export interface SessionGenerator {
  /** Starts a session on a prompt and generates its first turn. */
  start(request: SessionStartRequest): Promise<{ session: string; result: GenerationResult }>;
  /**
   * Appends tokens after the last generated one and generates the next turn, conditioned on the
   * whole context: prompt, every generated and every appended token, in order.
   */
  continue(
    session: string,
    appendTokenIds: readonly number[],
    request: SessionTurnRequest,
  ): Promise<GenerationResult>;
  /** Forgets a session (and whatever it cached). */
  release(session: string): void;
}
