// A trajectory: what one run of the agent loop produced, as training and evaluation read it —
// the exact sampled tokens, the mask of inserted tokens, the log-probs and the searches made.
// `@sr1/rollout` makes them; `@sr1/train`, `@sr1/eval` and the trainer read them.

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
