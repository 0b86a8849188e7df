// Sessions over any batched `Generator`. `SessionGenerator` (@sr1/spec) is the generator interface
// of the asynchronous agent loop: a session per trajectory, started on the prompt and continued with
// the tokens appended to it (an information block), so an engine can keep the trajectory's KV cache
// between turns. `@sr1/model` implements it over its continuous-batching scheduler.

import { GeneratorContractError } from './errors.js';
import type { GenerationResult, Generator, SessionGenerator, SessionTurnRequest } from './types.js';

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
