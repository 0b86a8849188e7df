// The generator interface of the asynchronous agent loop: a session per trajectory that is
// started on the prompt and continued with the tokens appended to it (an information block), so
// an engine can keep the trajectory's KV cache between turns. `@sr1/model` implements it over its
// continuous-batching scheduler; `sessionsFromGenerator` adapts any batched `Generator`.

import { GeneratorContractError } from './errors.js';
import type { GenerationResult, Generator } from './types.js';

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

/**
 * Sessions over a batched `Generator` that keeps no state: each turn sends the whole context as
 * the prompt (what the lock-step loop does), one sequence per call.
 */
export function sessionsFromGenerator(generator: Generator): SessionGenerator {
  const sessions = new Map<string, { key: string; context: number[] }>();
  let next = 0;
  const turn = async (key: string, context: number[], request: SessionTurnRequest) => {
    const { onDelta, ...rest } = request;
    const [result] = await generator.generate({
      ...rest,
      prompts: [context],
      keys: [key],
      ...(onDelta !== undefined ? { onDelta: (_sequence, delta) => onDelta(delta) } : {}),
    });
    if (result !== undefined && Array.isArray(result.tokenIds)) context.push(...result.tokenIds);
    return result as GenerationResult;
  };
  return {
    async start(request) {
      const { key, promptTokenIds, ...rest } = request;
      const session = String(next++);
      const context = [...promptTokenIds];
      sessions.set(session, { key, context });
      return { session, result: await turn(key, context, rest) };
    },
    async continue(session, appendTokenIds, request) {
      const state = sessions.get(session);
      if (state === undefined)
        throw new GeneratorContractError(`no session '${session}' (released or never started)`);
      state.context.push(...appendTokenIds);
      return turn(state.key, state.context, request);
    },
    release(session) {
      sessions.delete(session);
    },
  };
}
