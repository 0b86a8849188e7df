// The Search-R1 agent loop with every trajectory on its own: a trajectory searches as soon as its
// generation stops and resumes (continuing its session, so an engine reuses its KV cache) as soon
// as its results arrive, while the others keep generating. It makes the same trajectories as the
// lock-step `runRollout` — the same handling of each turn (`applyGeneration`, `applySearch`),
// the same contexts, seeds and masks — only the order of work and of events differs.

import { RetrieverContractError, RolloutInputError } from './errors.js';
import {
  applyGeneration,
  applyOpen,
  applySearch,
  checkResult,
  initialStates,
  type RolloutEvent,
  type RolloutOptions,
  type RolloutPrompt,
  resolveConfig,
  type State,
  type Trajectory,
  toTrajectory,
} from './rollout.js';
import { turnFormat } from './turn-format.js';
import type {
  GenerationResult,
  Retriever,
  SearchHit,
  SessionGenerator,
  SessionTurnRequest,
} from './types.js';

export interface AsyncRolloutOptions extends Omit<RolloutOptions, 'generator'> {
  /** One session per trajectory (`@sr1/model`'s scheduler sessions, or `sessionsFromGenerator`). */
  sessions: SessionGenerator;
}

/**
 * Sends the queries issued in the same turn of the event loop in one `retriever.search` call, so
 * trajectories that stop together still share a batch, and none waits for the others.
 */
class SearchBatcher {
  private queue: { query: string; resolve: (hits: SearchHit[]) => void; reject: (error: unknown) => void }[] =
    [];

  constructor(
    private readonly retriever: Retriever,
    private readonly topk: number,
  ) {}

  search(query: string): Promise<SearchHit[]> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ query, resolve, reject });
    });
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const queries = batch.map((item) => item.query);
    this.retriever.search(queries, this.topk).then(
      (hits) => {
        if (!Array.isArray(hits) || hits.length !== queries.length) {
          const error = new RetrieverContractError(
            `expected ${queries.length} result lists, one per query, got ${hits?.length}`,
          );
          for (const item of batch) item.reject(error);
          return;
        }
        batch.forEach((item, q) => {
          item.resolve(hits[q] ?? []);
        });
      },
      (error: unknown) => {
        for (const item of batch) item.reject(error);
      },
    );
  }
}

/**
 * Runs the agent loop with each trajectory advancing independently: at most `maxTurns` turns of
 * generate → act, then one final turn with search disabled, as `runRollout`. Each trajectory's
 * session is continued with exactly the tokens the lock-step loop would add to its context (the
 * information block or the invalid-action message); when the context outgrows `maxPromptTokens`
 * the session is restarted on the left-cut context, as the lock-step loop re-prompts.
 * Trajectories come back in the order of `prompts`.
 *
 * One difference from the lock-step loop: there, a turn's token budget is the largest room left
 * in the whole batch and each result is cut to its own room; here each trajectory asks for its
 * own room. The tokens are the same; the text differs only if the cut lands right after an EOS.
 */
export async function runAsyncRollout(
  prompts: readonly RolloutPrompt[],
  options: AsyncRolloutOptions,
): Promise<Trajectory[]> {
  const config = resolveConfig(options.config);
  const { sessions, retriever, tokenizer, onEvent, signal } = options;
  const emit = (event: RolloutEvent) => onEvent?.(event);
  const states = initialStates(prompts, config);
  const format = turnFormat(config, tokenizer);
  if (config.tools.includes('open') && typeof retriever.open !== 'function')
    throw new RolloutInputError('tools', "the 'open' tool needs a retriever with open(ids)");
  const searcher = new SearchBatcher(retriever, config.topk);

  const runOne = async (state: State): Promise<void> => {
    let session: string | undefined;
    let seen = 0; // context tokens the session holds (prompt + response so far)
    try {
      for (let turn = 0; turn <= config.maxTurns && state.finishReason === null; turn++) {
        signal?.throwIfAborted();
        const finalRound = turn === config.maxTurns; // the reference's last round: no search
        let streamed = false;
        const request: SessionTurnRequest = {
          maxNewTokens: Math.min(config.maxTokensPerTurn, config.maxResponseTokens - state.tokens.length),
          stop: format.stop,
          temperature: config.temperature,
          topP: config.topP,
          ...(config.seed !== undefined ? { seed: config.seed + turn } : {}),
          onDelta: (delta) => {
            streamed = true;
            emit({
              type: 'generation-delta',
              trajectoryId: state.id,
              turn,
              text: delta.text,
              tokenIds: delta.tokenIds,
            });
          },
          ...(signal !== undefined ? { signal } : {}),
        };
        const contextLength = state.prompt.length + state.tokens.length;
        let result: GenerationResult;
        if (session === undefined || contextLength > config.maxPromptTokens) {
          // First turn, or a context the lock-step loop would cut from the left: a fresh session.
          if (session !== undefined) sessions.release(session);
          const context = [...state.prompt, ...state.tokens].slice(-config.maxPromptTokens);
          const started = await sessions.start({ ...request, key: state.id, promptTokenIds: context });
          session = started.session;
          result = started.result;
        } else {
          const appended = state.tokens.slice(seen - state.prompt.length);
          result = await sessions.continue(session, appended, request);
        }
        result = checkResult(result, 0);
        seen = contextLength + result.tokenIds.length;
        if (!streamed) {
          emit({
            type: 'generation-delta',
            trajectoryId: state.id,
            turn,
            text: result.text,
            tokenIds: result.tokenIds,
          });
        }
        const call = applyGeneration(state, result, {
          config,
          tokenizer,
          turn,
          finalRound,
          format,
          emit,
        });
        if (call?.type === 'search') {
          emit({ type: 'search-start', trajectoryId: state.id, turn, query: call.query });
          const hits = await searcher.search(call.query);
          applySearch(state, call.query, hits, { config, tokenizer, turn, format, emit });
        } else if (call?.type === 'open') {
          const documents = await retriever.open!([call.id]);
          if (!Array.isArray(documents) || documents.length !== 1)
            throw new RetrieverContractError(
              `expected 1 document (or null) for one id, got ${documents?.length}`,
            );
          applyOpen(state, call.id, documents[0] ?? null, { config, tokenizer, turn, format });
        }
        if (state.finishReason !== null)
          emit({ type: 'trajectory-end', trajectoryId: state.id, finishReason: state.finishReason });
      }
    } finally {
      if (session !== undefined) sessions.release(session);
    }
  };

  const results = await Promise.allSettled(states.map(runOne));
  const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return states.map(toTrajectory);
}
