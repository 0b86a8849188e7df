// The Search-R1 agent loop, batched over every active trajectory: generate until an action,
// search for every query of the turn in one batch, insert the results, repeat. The running
// context is kept as token ids so the tokens trained on are exactly the tokens sampled.
//
// Token boundaries: a turn's generated tokens are kept as sampled, up to and including the
// token that completed `</search>` (which may carry a few characters past it). The inserted
// `\n\n<information>…</information>\n\n` is tokenised on its own and appended with mask 0.
// The response is therefore NOT the tokenisation of its own text: re-encoding the concatenated
// text could merge characters across the boundary (e.g. `</search>` + `\n\n` into one token) and
// move the mask edge into a token. That is intended — training must see the sampled tokens, and
// the model is conditioned on this same token sequence in the next turn.

import { GeneratorContractError, RetrieverContractError, RolloutInputError } from './errors.js';
import { ACTION_STOP_STRINGS, INVALID_ACTION_MESSAGE, informationBlock, parseAction } from './protocol.js';
import type { GenerationResult, Generator, Retriever, SearchHit, Tokenizer } from './types.js';

/** Limits and sampling of a rollout. */
export interface RolloutConfig {
  maxTurns: number;
  maxTokensPerTurn: number;
  maxObsTokens: number;
  maxStartTokens: number;
  maxPromptTokens: number;
  maxResponseTokens: number;
  topk: number;
  temperature: number;
  topP: number;
  /** Passed on to the generator; each round adds its index so rounds differ. */
  seed?: number;
}

/** The reference's settings (Search-R1 train scripts), each with its reason. */
export const DEFAULT_ROLLOUT_CONFIG: RolloutConfig = {
  maxTurns: 4, // reference max_turns; then one final round with search disabled
  maxTokensPerTurn: 500, // reference max_response_length (per turn)
  maxObsTokens: 500, // reference max_obs_length: a longer information block is cut
  maxStartTokens: 2048, // reference max_start_length: the prompt is cut from the left to this
  maxPromptTokens: 4096, // reference max_prompt_length: the running context is cut from the left to this
  maxResponseTokens: 4096, // the reference cuts the response side at max_prompt_length too
  topk: 3, // documents per search, the paper's best setting
  temperature: 1, // the paper's rollout temperature (validation uses greedy: 0)
  topP: 1, // the paper's top-p
};

/** One trajectory to run: a unique id (also the GRPO group key's source) and its prompt tokens. */
export interface RolloutPrompt {
  id: string;
  promptTokenIds: readonly number[];
}

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

/** What a rollout reports to an interface that watches it. */
export type RolloutEvent =
  | {
      type: 'generation-delta';
      trajectoryId: string;
      turn: number;
      text: string;
      tokenIds: readonly number[];
    }
  | { type: 'search-start'; trajectoryId: string; turn: number; query: string }
  | { type: 'search-end'; trajectoryId: string; turn: number; query: string; hits: readonly SearchHit[] }
  | { type: 'answer-end'; trajectoryId: string; turn: number; answer: string }
  | { type: 'trajectory-end'; trajectoryId: string; finishReason: RolloutFinishReason };

export interface RolloutOptions {
  generator: Generator;
  retriever: Retriever;
  /** Tokenises the inserted blocks; the generator's own tokenizer. */
  tokenizer: Tokenizer;
  config?: Partial<RolloutConfig>;
  onEvent?: (event: RolloutEvent) => void;
  signal?: AbortSignal;
}

export function resolveConfig(partial: Partial<RolloutConfig> | undefined): RolloutConfig {
  const config = { ...DEFAULT_ROLLOUT_CONFIG, ...partial };
  const integers: [keyof RolloutConfig, number][] = [
    ['maxTurns', 0],
    ['maxTokensPerTurn', 1],
    ['maxObsTokens', 0],
    ['maxStartTokens', 1],
    ['maxPromptTokens', 1],
    ['maxResponseTokens', 1],
    ['topk', 1],
  ];
  for (const [field, min] of integers) {
    const value = config[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new RolloutInputError(field, `expected an integer >= ${min}, got ${String(value)}`);
    }
  }
  if (!(config.temperature >= 0))
    throw new RolloutInputError('temperature', `expected >= 0, got ${config.temperature}`);
  if (!(config.topP > 0 && config.topP <= 1))
    throw new RolloutInputError('topP', `expected in (0, 1], got ${config.topP}`);
  return config;
}

/** A trajectory while it runs (shared with the asynchronous loop). */
export interface State {
  id: string;
  prompt: number[];
  tokens: number[];
  mask: number[];
  logProbs: number[];
  text: string;
  searches: SearchRecord[];
  turns: number;
  invalidActions: number;
  answer: string | null;
  finishReason: RolloutFinishReason | null;
  tokenExact: boolean;
}

/** Appends inserted (mask 0) tokens, honouring the response budget. */
export function insert(
  state: State,
  ids: readonly number[],
  text: string,
  tokenizer: Tokenizer,
  budget: number,
): void {
  const room = budget - state.tokens.length;
  const kept = ids.length <= room ? ids : ids.slice(0, Math.max(0, room));
  state.tokens.push(...kept);
  for (let i = 0; i < kept.length; i++) {
    state.mask.push(0);
    state.logProbs.push(0);
  }
  state.text += kept.length === ids.length ? text : tokenizer.decode(kept);
  if (state.tokens.length >= budget) state.finishReason = 'length';
}

export function checkResult(result: GenerationResult | undefined, sequence: number): GenerationResult {
  if (result === undefined || !Array.isArray(result.tokenIds) || typeof result.text !== 'string') {
    throw new GeneratorContractError(
      `expected a result { tokenIds, text, logProbs } for sequence ${sequence}`,
    );
  }
  if (!Array.isArray(result.logProbs) || result.logProbs.length !== result.tokenIds.length) {
    throw new GeneratorContractError(
      `sequence ${sequence}: expected one log-prob per token (${result.tokenIds.length}), got ${result.logProbs?.length}`,
    );
  }
  return result;
}

/** Validates the prompts and makes one state per trajectory (prompt cut to `maxStartTokens`). */
export function initialStates(prompts: readonly RolloutPrompt[], config: RolloutConfig): State[] {
  const seen = new Set<string>();
  const states: State[] = prompts.map((prompt, i) => {
    if (typeof prompt?.id !== 'string')
      throw new RolloutInputError(`prompts[${i}].id`, 'expected a string id');
    if (seen.has(prompt.id))
      throw new RolloutInputError(`prompts[${i}].id`, `duplicate trajectory id '${prompt.id}'`);
    seen.add(prompt.id);
    if (!Array.isArray(prompt.promptTokenIds) || prompt.promptTokenIds.length === 0) {
      throw new RolloutInputError(`prompts[${i}].promptTokenIds`, 'expected a non-empty array of token ids');
    }
    return {
      id: prompt.id,
      prompt: prompt.promptTokenIds.slice(-config.maxStartTokens),
      tokens: [],
      mask: [],
      logProbs: [],
      text: '',
      searches: [],
      turns: 0,
      invalidActions: 0,
      answer: null,
      finishReason: null,
      tokenExact: true,
    };
  });
  return states;
}

/** What handling one generated turn needs. */
export interface TurnContext {
  config: RolloutConfig;
  tokenizer: Tokenizer;
  turn: number;
  finalRound: boolean;
  invalidIds: readonly number[];
  emit: (event: RolloutEvent) => void;
}

/**
 * Appends one turn's sampled tokens (mask 1) and acts on its text: an answer ends the trajectory,
 * a search returns its query (the caller inserts the results with `applySearch`), anything else
 * gets the invalid-action message. The one implementation both loops use.
 */
export function applyGeneration(state: State, result: GenerationResult, context: TurnContext): string | null {
  const { config, tokenizer, turn, finalRound, invalidIds, emit } = context;
  state.turns += 1;
  if (result.tokenExact === false) state.tokenExact = false;
  const room = config.maxResponseTokens - state.tokens.length;
  const cut = result.tokenIds.length > room;
  const tokenIds = cut ? result.tokenIds.slice(0, room) : result.tokenIds;
  state.tokens.push(...tokenIds);
  for (let i = 0; i < tokenIds.length; i++) {
    state.mask.push(1);
    state.logProbs.push(result.logProbs[i]!);
  }
  const text = cut ? tokenizer.decode(tokenIds) : result.text;
  state.text += text;
  const action = parseAction(text);
  if (action.type === 'answer') {
    state.answer = action.answer;
    state.finishReason = 'answer';
    emit({ type: 'answer-end', trajectoryId: state.id, turn, answer: action.answer });
  } else if (cut || state.tokens.length >= config.maxResponseTokens) {
    state.finishReason = 'length';
  } else if (finalRound) {
    state.finishReason = 'max-turns';
  } else if (action.type === 'search') {
    return action.query;
  } else {
    state.invalidActions += 1;
    insert(state, invalidIds, INVALID_ACTION_MESSAGE, tokenizer, config.maxResponseTokens);
  }
  return null;
}

/** Inserts a search's results as the information block (mask 0), cut to `maxObsTokens`. */
export function applySearch(
  state: State,
  query: string,
  found: readonly SearchHit[],
  context: Pick<TurnContext, 'config' | 'tokenizer' | 'turn' | 'emit'>,
): void {
  const { config, tokenizer, turn, emit } = context;
  emit({ type: 'search-end', trajectoryId: state.id, turn, query, hits: found });
  state.searches.push({
    turn,
    query,
    documents: found.map((hit) => ({ id: hit.id, score: hit.score })),
  });
  const block = informationBlock(found);
  const ids = tokenizer.encode(block);
  const kept = ids.length > config.maxObsTokens ? ids.slice(0, config.maxObsTokens) : ids; // the reference cuts the tail
  insert(
    state,
    kept,
    kept.length === ids.length ? block : tokenizer.decode(kept),
    tokenizer,
    config.maxResponseTokens,
  );
}

/** The finished trajectory of a state. */
export function toTrajectory(state: State): Trajectory {
  return {
    id: state.id,
    promptTokenIds: state.prompt,
    responseTokenIds: state.tokens,
    sampledMask: Uint8Array.from(state.mask),
    logProbs: Float64Array.from(state.logProbs),
    text: state.text,
    searches: state.searches,
    turns: state.turns,
    invalidActions: state.invalidActions,
    answer: state.answer,
    // Every trajectory ends in some round: the final one always sets a reason.
    finishReason: state.finishReason ?? 'max-turns',
    tokenExact: state.tokenExact,
  };
}

/**
 * Runs the agent loop for a batch of prompts (reference §1): at most `maxTurns` rounds of
 * generate → act, then one final round with search disabled. Each round generates for every
 * active trajectory in one generator call and sends every search of the round to the retriever
 * in one call. Trajectories come back in the order of `prompts`.
 */
export async function runRollout(
  prompts: readonly RolloutPrompt[],
  options: RolloutOptions,
): Promise<Trajectory[]> {
  const config = resolveConfig(options.config);
  const { generator, retriever, tokenizer, onEvent } = options;
  const emit = (event: RolloutEvent) => onEvent?.(event);
  const states = initialStates(prompts, config);
  const invalidIds = tokenizer.encode(INVALID_ACTION_MESSAGE);

  for (let turn = 0; turn <= config.maxTurns; turn++) {
    options.signal?.throwIfAborted();
    const finalRound = turn === config.maxTurns; // the reference's last round: no search
    const active = states.filter((state) => state.finishReason === null);
    if (active.length === 0) break;
    const room = Math.max(...active.map((state) => config.maxResponseTokens - state.tokens.length));
    const streamed = new Set<number>();
    const results = await generator.generate({
      prompts: active.map((state) => [...state.prompt, ...state.tokens].slice(-config.maxPromptTokens)),
      keys: active.map((state) => state.id),
      // One budget for the batch keeps the call simple; a trajectory nearer its response budget is cut below.
      maxNewTokens: Math.min(config.maxTokensPerTurn, room),
      stop: ACTION_STOP_STRINGS,
      temperature: config.temperature,
      topP: config.topP,
      ...(config.seed !== undefined ? { seed: config.seed + turn } : {}),
      onDelta: (sequence, delta) => {
        const state = active[sequence];
        if (state === undefined) return;
        streamed.add(sequence);
        emit({
          type: 'generation-delta',
          trajectoryId: state.id,
          turn,
          text: delta.text,
          tokenIds: delta.tokenIds,
        });
      },
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    });
    if (!Array.isArray(results) || results.length !== active.length) {
      throw new GeneratorContractError(
        `expected ${active.length} results, one per prompt, got ${results?.length}`,
      );
    }

    const searches: { state: State; query: string }[] = [];
    active.forEach((state, sequence) => {
      const result = checkResult(results[sequence], sequence);
      if (!streamed.has(sequence)) {
        emit({
          type: 'generation-delta',
          trajectoryId: state.id,
          turn,
          text: result.text,
          tokenIds: result.tokenIds,
        });
      }
      const query = applyGeneration(state, result, { config, tokenizer, turn, finalRound, invalidIds, emit });
      if (query !== null) searches.push({ state, query });
    });

    if (searches.length > 0) {
      for (const { state, query } of searches)
        emit({ type: 'search-start', trajectoryId: state.id, turn, query });
      const queries = searches.map((search) => search.query);
      const hits = await retriever.search(queries, config.topk);
      if (!Array.isArray(hits) || hits.length !== queries.length) {
        throw new RetrieverContractError(
          `expected ${queries.length} result lists, one per query, got ${hits?.length}`,
        );
      }
      searches.forEach(({ state, query }, q) => {
        applySearch(state, query, hits[q] ?? [], { config, tokenizer, turn, emit });
      });
    }
    for (const state of active) {
      if (state.finishReason !== null)
        emit({ type: 'trajectory-end', trajectoryId: state.id, finishReason: state.finishReason });
    }
  }

  return states.map(toTrajectory);
}
