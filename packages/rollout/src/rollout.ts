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

import { lookupVariant } from '@sr1/core';
import { normalizeAnswer } from '@sr1/reward';
import type { OpenRecord, RolloutFinishReason, SearchRecord, Trajectory, TrajectorySource } from '@sr1/spec';
import { GeneratorContractError, RetrieverContractError, RolloutInputError } from './errors.js';
import { TOOL_SCHEMAS, type ToolFormat, type ToolName } from './hermes.js';
import { type Observation, type TurnFormat, turnFormat } from './turn-format.js';
import type {
  GenerationResult,
  Generator,
  OpenedDocument,
  Retriever,
  SearchHit,
  Tokenizer,
} from './types.js';

// The trajectory types are declared in @sr1/spec; re-exported here so rollout's modules and its
// public API keep one import path.
export type { OpenRecord, RolloutFinishReason, SearchRecord, Trajectory, TrajectorySource };

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
  /** `'tags'`: the paper's `<search>`/`<information>` text protocol; `'hermes'`: native tool calls through the chat template. */
  toolFormat: ToolFormat;
  /** The tools offered: `search`, and in `'hermes'` optionally `open` (a passage's whole document). */
  tools: readonly ToolName[];
  /** Searches per trajectory; after that the agent is told search is unavailable. null: no budget. */
  maxSearches: number | null;
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
  toolFormat: 'tags', // the paper's protocol, which its checkpoints were trained on
  tools: ['search'], // the paper's only tool
  maxSearches: null, // the paper has no budget besides maxTurns
};

/** One trajectory to run: a unique id (also the GRPO group key's source) and its prompt tokens. */
export interface RolloutPrompt {
  id: string;
  promptTokenIds: readonly number[];
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
  lookupVariant({ tags: true, hermes: true }, config.toolFormat, 'tool format', 'toolFormat');
  if (!Array.isArray(config.tools) || !config.tools.includes('search'))
    throw new RolloutInputError(
      'tools',
      `expected a list with 'search', got ${JSON.stringify(config.tools)}`,
    );
  for (const tool of config.tools) lookupVariant(TOOL_SCHEMAS, tool, 'tool', 'tools');
  if (config.tools.includes('open') && config.toolFormat !== 'hermes')
    throw new RolloutInputError('tools', "the 'open' tool needs toolFormat 'hermes'");
  const budget = config.maxSearches;
  if (budget !== null && !(Number.isInteger(budget) && budget >= 0))
    throw new RolloutInputError('maxSearches', `expected null or an integer >= 0, got ${String(budget)}`);
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
  searchesRefused: number;
  opens: OpenRecord[];
  /** Passages read, by id, with their text for the answer check at the end. */
  read: Map<string, { source: Omit<TrajectorySource, 'containsAnswer'>; text: string }>;
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
      searchesRefused: 0,
      opens: [],
      read: new Map(),
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
  /** The tool format: what the turn's text means and what is inserted after it. */
  format: TurnFormat;
  emit: (event: RolloutEvent) => void;
}

/** A tool call the caller must carry out (then `applySearch` / `applyOpen`). */
export type ToolCall = { type: 'search'; query: string } | { type: 'open'; id: string };

/** Appends an observation (mask 0), honouring the response budget. */
function insertObservation(
  state: State,
  observation: Observation,
  context: Pick<TurnContext, 'config' | 'tokenizer'>,
) {
  insert(state, observation.ids, observation.text, context.tokenizer, context.config.maxResponseTokens);
}

/**
 * Appends one turn's sampled tokens (mask 1) and acts on its text: an answer ends the trajectory,
 * a search or open returns the call (the caller inserts the results with `applySearch` or
 * `applyOpen`), a search past the budget is answered "unavailable", anything else gets the
 * invalid-action message. The one implementation both loops use.
 */
export function applyGeneration(
  state: State,
  result: GenerationResult,
  context: TurnContext,
): ToolCall | null {
  const { config, tokenizer, turn, finalRound, format, emit } = context;
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
  const action = format.parse(text);
  if (action.type === 'answer') {
    state.answer = action.answer;
    state.finishReason = 'answer';
    emit({ type: 'answer-end', trajectoryId: state.id, turn, answer: action.answer });
  } else if (cut || state.tokens.length >= config.maxResponseTokens) {
    state.finishReason = 'length';
  } else if (finalRound) {
    state.finishReason = 'max-turns';
  } else if (action.type === 'search') {
    if (config.maxSearches === null || state.searches.length < config.maxSearches) return action;
    state.searchesRefused += 1;
    insertObservation(state, format.searchRefused(config.maxSearches, state.tokens.at(-1)), context);
  } else if (action.type === 'open') {
    return action;
  } else {
    state.invalidActions += 1;
    insertObservation(state, format.invalid(state.tokens.at(-1)), context);
  }
  return null;
}

/** Remembers a passage the trajectory read (the first time only). */
function noteRead(state: State, source: Omit<TrajectorySource, 'containsAnswer'>, text: string): void {
  if (!state.read.has(source.id)) state.read.set(source.id, { source, text });
}

/** Inserts a search's results as the information block (mask 0), cut to `maxObsTokens`. */
export function applySearch(
  state: State,
  query: string,
  found: readonly SearchHit[],
  context: Pick<TurnContext, 'config' | 'tokenizer' | 'turn' | 'format' | 'emit'>,
): void {
  const { turn, format, emit } = context;
  emit({ type: 'search-end', trajectoryId: state.id, turn, query, hits: found });
  state.searches.push({
    turn,
    query,
    documents: found.map((hit) => ({ id: hit.id, score: hit.score })),
  });
  for (const hit of found) {
    noteRead(
      state,
      { id: hit.id, title: hit.title, ...(hit.source ? { source: hit.source } : {}), turn, via: 'search' },
      `${hit.title}\n${hit.text}`,
    );
  }
  insertObservation(state, format.searchResult(found, state.tokens.at(-1)), context);
}

/** Inserts an opened document as a tool message (mask 0), cut to `maxObsTokens`. */
export function applyOpen(
  state: State,
  id: string,
  document: OpenedDocument | null,
  context: Pick<TurnContext, 'config' | 'tokenizer' | 'turn' | 'format'>,
): void {
  const { turn, format } = context;
  state.opens.push({ turn, id, found: document !== null });
  if (document !== null) {
    noteRead(
      state,
      {
        id,
        title: document.title,
        ...(document.source ? { source: document.source } : {}),
        turn,
        via: 'open',
      },
      `${document.title}\n${document.text}`,
    );
  }
  insertObservation(state, format.openResult(id, document, state.tokens.at(-1)), context);
}

/** Whether a passage's `text` contains `answer` as whole words, both SQuAD-normalised (false for no answer). */
export function passageContainsAnswer(text: string, answer: string | null): boolean {
  if (answer === null) return false;
  const normalized = normalizeAnswer(answer);
  return normalized !== '' && ` ${normalizeAnswer(text)} `.includes(` ${normalized} `);
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
    searchesRefused: state.searchesRefused,
    opens: state.opens,
    sources: [...state.read.values()].map(({ source, text }) => ({
      ...source,
      containsAnswer: passageContainsAnswer(text, state.answer),
    })),
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
  const format = turnFormat(config, tokenizer);
  if (config.tools.includes('open') && typeof retriever.open !== 'function')
    throw new RolloutInputError('tools', "the 'open' tool needs a retriever with open(ids)");

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
      stop: format.stop,
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
    const opens: { state: State; id: string }[] = [];
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
      const call = applyGeneration(state, result, { config, tokenizer, turn, finalRound, format, emit });
      if (call?.type === 'search') searches.push({ state, query: call.query });
      else if (call?.type === 'open') opens.push({ state, id: call.id });
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
        applySearch(state, query, hits[q] ?? [], { config, tokenizer, turn, format, emit });
      });
    }
    if (opens.length > 0) {
      const documents = await retriever.open!(opens.map((open) => open.id));
      if (!Array.isArray(documents) || documents.length !== opens.length) {
        throw new RetrieverContractError(
          `expected ${opens.length} documents (or null), one per id, got ${documents?.length}`,
        );
      }
      opens.forEach(({ state, id }, i) => {
        applyOpen(state, id, documents[i] ?? null, { config, tokenizer, turn, format });
      });
    }
    for (const state of active) {
      if (state.finishReason !== null)
        emit({ type: 'trajectory-end', trajectoryId: state.id, finishReason: state.finishReason });
    }
  }

  return states.map(toTrajectory);
}
