// A cost per search in the reward, so that RL learns to answer what the policy knows and to
// search only for what it does not. Two variants, chosen by `kind`:
// - 'additive': r = EM − c·m, m = the trajectory's searches (the simple alternative);
// - 'otc': r = α · r_tool(m, n*) · EM, OTC's tool-efficiency factor (Wang et al. 2025, "OTC:
//   Optimal Tool Calls via Reinforcement Learning", arXiv 2504.14870), n* = the fewest searches
//   among correct answers to the same question seen so far (their OTC-GRPO), or, unknown, the
//   OTC-PPO form cos(mπ / (2m + c)).
// Pure functions; `MinimalSearches` keeps n* per question for a training run.

import { RewardInputError } from './errors.js';

/** No cost: the reward is unchanged. */
export interface NoSearchCost {
  kind: 'none';
}

/** r = reward − c · searches. */
export interface AdditiveSearchCost {
  kind: 'additive';
  /** Cost of one search, in reward units (≥ 0). */
  c: number;
}

/** r = α · r_tool(searches, n*) · reward (OTC). */
export interface OtcSearchCost {
  kind: 'otc';
  /** Smoothing constant of the decay when n* is 0 or unknown (> 0; larger: gentler). */
  c: number;
  /** Scale of the reward (> 0; default 1). */
  alpha?: number;
}

export type SearchCost = NoSearchCost | AdditiveSearchCost | OtcSearchCost;

export type SearchCostKind = SearchCost['kind'];

/** What a cost needs of one trajectory. */
export interface SearchCostInput {
  /** The task reward before the cost (EM: 0 or 1). */
  reward: number;
  /** Searches the trajectory made (m). */
  searches: number;
  /** n*: the fewest searches of a correct answer to this question, where known (OTC only). */
  optimalSearches?: number;
}

/** The reward after the cost, and what the cost took away (reward before − after). */
export interface CostedReward {
  reward: number;
  costTerm: number;
}

function requireCount(value: number, field: string): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new RewardInputError(field, `expected an integer ≥ 0, got ${value}`);
  }
  return value;
}

function requireFinite(value: number, field: string, min: number, exclusive: boolean): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || (exclusive ? value <= min : value < min)) {
    throw new RewardInputError(field, `expected a number ${exclusive ? '>' : '≥'} ${min}, got ${value}`);
  }
  return value;
}

/**
 * OTC's tool-efficiency factor r_tool(m, n) in [0, 1]: 1 at m = n, falling as m moves away.
 * n = 0: 1 for m = 0, else cos(mπ / (2m + c)). n > 0: sin(f·π / (2n)), f = 2nm / (m + n).
 * `optimal` undefined (no correct answer seen yet): cos(mπ / (2m + c)), the OTC-PPO form.
 */
export function otcToolFactor(searches: number, optimal: number | undefined, c: number): number {
  const m = requireCount(searches, 'searches');
  requireFinite(c, 'c', 0, true);
  if (optimal === undefined || requireCount(optimal, 'optimalSearches') === 0) {
    return m === 0 ? 1 : Math.cos((m * Math.PI) / (2 * m + c));
  }
  const n = optimal;
  const f = (2 * n * m) / (m + n);
  return Math.sin((f * Math.PI) / (2 * n));
}

/** Each kind's reward after the cost (the registry `applySearchCost` dispatches on). */
export const SEARCH_COSTS: {
  [K in SearchCostKind]: (cost: Extract<SearchCost, { kind: K }>, input: SearchCostInput) => number;
} = {
  none: (_cost, input) => input.reward,
  additive: (cost, input) => input.reward - cost.c * input.searches,
  otc: (cost, input) =>
    (cost.alpha ?? 1) * otcToolFactor(input.searches, input.optimalSearches, cost.c) * input.reward,
};

export const SEARCH_COST_KINDS = Object.keys(SEARCH_COSTS) as SearchCostKind[];

/** Checks a cost's parameters; returns it. Throws `RewardInputError` naming the field. */
export function validateSearchCost(cost: SearchCost): SearchCost {
  switch (cost.kind) {
    case 'none':
      return cost;
    case 'additive':
      requireFinite(cost.c, 'searchCost.c', 0, false);
      return cost;
    case 'otc':
      requireFinite(cost.c, 'searchCost.c', 0, true);
      if (cost.alpha !== undefined) requireFinite(cost.alpha, 'searchCost.alpha', 0, true);
      return cost;
    default:
      throw new RewardInputError(
        'searchCost.kind',
        `expected one of ${SEARCH_COST_KINDS.join(', ')}, got ${String((cost as { kind: unknown }).kind)}`,
      );
  }
}

/** The reward of one trajectory after `cost`, and the cost term (reward before − after). */
export function applySearchCost(cost: SearchCost, input: SearchCostInput): CostedReward {
  requireCount(input.searches, 'searches');
  requireFinite(input.reward, 'reward', -Infinity, false);
  const apply = SEARCH_COSTS[cost.kind] as (cost: SearchCost, input: SearchCostInput) => number;
  const reward = apply(cost, input);
  return { reward, costTerm: input.reward - reward };
}

/**
 * A cost from its command-line spelling: `none`, `additive:C` (e.g. `additive:0.1`), `otc:C` or
 * `otc:C:ALPHA`. Throws `RewardInputError` (field `searchCost`) on anything else.
 */
export function parseSearchCost(spec: string): SearchCost {
  const [kind, ...rest] = spec.trim().split(':');
  const number = (text: string | undefined, field: string): number => {
    const value = text === undefined || text.trim() === '' ? Number.NaN : Number(text);
    if (!Number.isFinite(value)) {
      throw new RewardInputError(`searchCost.${field}`, `expected a number in '${spec}'`);
    }
    return value;
  };
  if (kind === 'none' && rest.length === 0) return { kind: 'none' };
  if (kind === 'additive' && rest.length === 1)
    return validateSearchCost({ kind: 'additive', c: number(rest[0], 'c') });
  if (kind === 'otc' && (rest.length === 1 || rest.length === 2)) {
    return validateSearchCost({
      kind: 'otc',
      c: number(rest[0], 'c'),
      ...(rest.length === 2 ? { alpha: number(rest[1], 'alpha') } : {}),
    });
  }
  throw new RewardInputError(
    'searchCost',
    `expected 'none', 'additive:C', 'otc:C' or 'otc:C:ALPHA', got '${spec}'`,
  );
}

/** n* per question for OTC: the fewest searches of any correct answer observed so far. */
export class MinimalSearches {
  private readonly fewest = new Map<string, number>();

  /** Records one trajectory: only correct ones (reward > 0) can lower n*. */
  observe(key: string, searches: number, correct: boolean): void {
    requireCount(searches, 'searches');
    if (!correct) return;
    const known = this.fewest.get(key);
    if (known === undefined || searches < known) this.fewest.set(key, searches);
  }

  /** n* of `key`, or undefined before its first correct answer. */
  get(key: string): number | undefined {
    return this.fewest.get(key);
  }

  /** Every recorded n*, for a checkpoint (`[key, n*]` pairs). */
  entries(): [string, number][] {
    return [...this.fewest.entries()];
  }

  /** Restores what `entries` returned. */
  static from(entries: Iterable<readonly [string, number]>): MinimalSearches {
    const minimal = new MinimalSearches();
    for (const [key, searches] of entries) minimal.observe(key, searches, true);
    return minimal;
  }
}
