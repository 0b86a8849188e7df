// @sr1/spec's `SessionGenerator` over this package's continuous-batching scheduler, in process
// (`ContinuousBatchScheduler`) or in the engine worker (`EngineWorker`): each trajectory's session
// keeps its KV cache between turns, so a continued turn prefills only the appended block.

import type { GenerationResult, SessionGenerator, SessionTurnRequest } from '@sr1/spec';
import type { StartOptions, TurnOptions, TurnResult } from './scheduler.js';

/** What `sessionGenerator` needs: the scheduler's session API (both engines have it). */
export interface SessionEngine {
  start(
    promptTokenIds: readonly number[],
    options: StartOptions,
  ): Promise<{ session: number; result: TurnResult }>;
  continue(session: number, appendTokenIds: readonly number[], options: TurnOptions): Promise<TurnResult>;
  release(session: number): void;
}

export interface SessionGeneratorOptions {
  /** Turns sampled tokens into `onDelta` text deltas; without it nothing streams. */
  tokenizer?: { decode(ids: readonly number[]): string };
}

function turnOptions(
  request: SessionTurnRequest,
  tokenizer: SessionGeneratorOptions['tokenizer'],
): TurnOptions {
  const onDelta = request.onDelta;
  let onToken: ((tokenId: number) => void) | undefined;
  if (onDelta !== undefined && tokenizer !== undefined) {
    const tokens: number[] = [];
    let text = '';
    onToken = (tokenId) => {
      // differences of whole decodes, so a character split across tokens arrives whole
      tokens.push(tokenId);
      const decoded = tokenizer.decode(tokens);
      const delta = decoded.startsWith(text) ? decoded.slice(text.length) : decoded;
      text = decoded;
      onDelta({ text: delta, tokenIds: [tokenId] });
    };
  }
  return {
    maxNewTokens: request.maxNewTokens,
    temperature: request.temperature,
    topP: request.topP,
    stop: request.stop,
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.signal !== undefined ? { signal: request.signal } : {}),
    ...(onToken !== undefined ? { onToken } : {}),
  };
}

function toResult(turn: TurnResult): GenerationResult {
  return {
    tokenIds: turn.tokenIds,
    text: turn.text,
    logProbs: turn.logprobs,
    finishReason: turn.finishReason,
  };
}

/** A `SessionGenerator` (for `runAsyncRollout`) over a scheduler or an engine worker. */
export function sessionGenerator(
  engine: SessionEngine,
  options: SessionGeneratorOptions = {},
): SessionGenerator {
  return {
    async start(request) {
      const { session, result } = await engine.start(
        request.promptTokenIds,
        turnOptions(request, options.tokenizer),
      );
      return { session: String(session), result: toResult(result) };
    },
    async continue(session, appendTokenIds, request) {
      return toResult(
        await engine.continue(Number(session), appendTokenIds, turnOptions(request, options.tokenizer)),
      );
    },
    release(session) {
      engine.release(Number(session));
    },
  };
}
