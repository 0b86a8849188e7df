// A trajectory: what one run of the agent loop produced, as training and evaluation read it —
// the exact sampled tokens, the mask of inserted tokens, the log-probs and the searches made.
// `@sr1/rollout` makes them; `@sr1/train`, `@sr1/eval` and the trainer read them.

import type { PassageSource } from './search.js';

/** How a trajectory ended. */
export type RolloutFinishReason =
  /** an `<answer>` action */
  | 'answer'
  /** the final round (search disabled) ended without an answer */
  | 'max-turns'
  /** `maxResponseTokens` reached (the response is cut there) */
  | 'length';

/** A search the agent made. */
export interface SearchRecord {
  /** 0-based round in which the query was issued. */
  turn: number;
  query: string;
  documents: { id: string; score: number }[];
}

/** An `open` call the agent made (Hermes tool format with the `open` tool). */
export interface OpenRecord {
  /** 0-based round in which the call was issued. */
  turn: number;
  /** The passage id asked for. */
  id: string;
  /** False when the retriever knew no such passage. */
  found: boolean;
}

/**
 * A passage the trajectory read: every distinct passage its searches returned (and every document
 * it opened), in the order first seen. These are what its answer can rest on; `containsAnswer`
 * marks the ones whose text contains the final answer (SQuAD-normalised, whole words).
 */
export interface TrajectorySource {
  /** Passage id (for an opened document, the id that was opened). */
  id: string;
  title: string;
  /** Where the passage came from, when the retriever knows (an index made by `ingest`). */
  source?: PassageSource;
  /** 0-based round in which it was first retrieved or opened. */
  turn: number;
  /** How it was read: returned by a search, or opened whole. */
  via: 'search' | 'open';
  /** The final answer appears in its title or text. False when there is no answer. */
  containsAnswer: boolean;
}

/** Everything training and evaluation need from one trajectory. */
export interface Trajectory {
  id: string;
  /** The prompt as fed to the first round (after the `maxStartTokens` cut). */
  promptTokenIds: number[];
  /** Generated and inserted tokens, in order. */
  responseTokenIds: number[];
  /** 1 = sampled from the policy, 0 = inserted by the system; same length as `responseTokenIds`. */
  sampledMask: Uint8Array;
  /** log π_old of each sampled token, 0 where the mask is 0; same length as `responseTokenIds`. */
  logProbs: Float64Array;
  /** The response text: generated text and inserted blocks, in order. */
  text: string;
  searches: SearchRecord[];
  /** Searches asked for after `maxSearches` was spent (answered with "search is unavailable"). */
  searchesRefused: number;
  /** `open` calls (Hermes format with the `open` tool). */
  opens: OpenRecord[];
  /** The passages read, in the order first seen, with the ones that contain the answer marked. */
  sources: TrajectorySource[];
  /** Generation rounds taken part in. */
  turns: number;
  /** Turns whose text had no parsable action. */
  invalidActions: number;
  /** Content of the `<answer>` action that ended the trajectory, or null. */
  answer: string | null;
  finishReason: RolloutFinishReason;
  /** False when any generated tokens were re-encoded from text (do not train on it). */
  tokenExact: boolean;
}
