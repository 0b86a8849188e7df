import { describe, expect, it } from 'vitest';
import { RewardInputError } from './errors.js';
import {
  applySearchCost,
  MinimalSearches,
  otcToolFactor,
  parseSearchCost,
  SEARCH_COST_KINDS,
  validateSearchCost,
} from './search-cost.js';

describe('applySearchCost', () => {
  it('none leaves the reward as it is', () => {
    expect(applySearchCost({ kind: 'none' }, { reward: 1, searches: 3 })).toEqual({ reward: 1, costTerm: 0 });
  });

  it('additive subtracts c per search, right or wrong', () => {
    const cost = { kind: 'additive', c: 0.1 } as const;
    const right = applySearchCost(cost, { reward: 1, searches: 2 });
    expect(right.reward).toBeCloseTo(0.8, 12);
    expect(right.costTerm).toBeCloseTo(0.2, 12);
    expect(applySearchCost(cost, { reward: 1, searches: 0 })).toEqual({ reward: 1, costTerm: 0 });
    expect(applySearchCost(cost, { reward: 0, searches: 1 }).reward).toBeCloseTo(-0.1, 12);
    // Answering a known fact without a search beats looking it up; looking up beats a wrong guess.
    const recall = applySearchCost(cost, { reward: 1, searches: 0 }).reward;
    const lookUp = applySearchCost(cost, { reward: 1, searches: 1 }).reward;
    const guess = applySearchCost(cost, { reward: 0, searches: 0 }).reward;
    expect(recall).toBeGreaterThan(lookUp);
    expect(lookUp).toBeGreaterThan(guess);
  });

  it('otc multiplies the reward by the tool factor (α scales it)', () => {
    const cost = { kind: 'otc', c: 1 } as const;
    expect(applySearchCost(cost, { reward: 1, searches: 1, optimalSearches: 1 })).toEqual({
      reward: 1,
      costTerm: 0,
    });
    const extra = applySearchCost(cost, { reward: 1, searches: 2, optimalSearches: 1 });
    expect(extra.reward).toBeCloseTo(Math.sqrt(3) / 2, 12);
    expect(extra.costTerm).toBeCloseTo(1 - Math.sqrt(3) / 2, 12);
    // A wrong answer earns nothing however few searches it made.
    expect(applySearchCost(cost, { reward: 0, searches: 0, optimalSearches: 0 }).reward).toBe(0);
    expect(
      applySearchCost({ kind: 'otc', c: 1, alpha: 2 }, { reward: 1, searches: 1, optimalSearches: 0 }).reward,
    ).toBeCloseTo(2 * 0.5, 12);
  });

  it('rejects a negative or fractional search count', () => {
    expect(() => applySearchCost({ kind: 'none' }, { reward: 1, searches: -1 })).toThrow(RewardInputError);
    expect(() => applySearchCost({ kind: 'none' }, { reward: 1, searches: 1.5 })).toThrow("'searches'");
  });
});

describe('otcToolFactor', () => {
  it.each([
    // n* = 0: 1 without a search, then cos(mπ / (2m + c)).
    [0, 0, 1, 1],
    [1, 0, 1, 0.5], // cos(π/3)
    [2, 0, 1, Math.cos((2 * Math.PI) / 5)],
    // n* > 0: 1 at m = n*, sin(f·π / 2n*) with f = 2n*m / (m + n*) away from it.
    [1, 1, 1, 1],
    [2, 1, 1, Math.sqrt(3) / 2], // f = 4/3 → sin(2π/3)
    [0, 1, 1, 0], // f = 0
    [2, 2, 5, 1],
    [4, 2, 5, Math.sin(((16 / 6) * Math.PI) / 4)],
  ] as const)('m %i, n* %i, c %d → %d', (m, n, c, expected) => {
    expect(otcToolFactor(m, n, c)).toBeCloseTo(expected, 12);
  });

  it('without n* uses the OTC-PPO form and falls with every search', () => {
    expect(otcToolFactor(0, undefined, 3)).toBe(1);
    expect(otcToolFactor(1, undefined, 3)).toBeCloseTo(Math.cos(Math.PI / 5), 12);
    const factors = [0, 1, 2, 3, 4].map((m) => otcToolFactor(m, undefined, 3));
    for (let m = 1; m < factors.length; m++) expect(factors[m]!).toBeLessThan(factors[m - 1]!);
    for (const factor of factors) expect(factor).toBeGreaterThan(0);
  });

  it('rejects c ≤ 0', () => {
    expect(() => otcToolFactor(1, 0, 0)).toThrow("'c'");
  });
});

describe('parseSearchCost / validateSearchCost', () => {
  it('reads the command-line spellings', () => {
    expect(parseSearchCost('none')).toEqual({ kind: 'none' });
    expect(parseSearchCost('additive:0.1')).toEqual({ kind: 'additive', c: 0.1 });
    expect(parseSearchCost(' otc:3 ')).toEqual({ kind: 'otc', c: 3 });
    expect(parseSearchCost('otc:3:0.5')).toEqual({ kind: 'otc', c: 3, alpha: 0.5 });
  });

  it.each([
    '',
    'additive',
    'additive:',
    'additive:x',
    'additive:-0.1',
    'otc:0',
    'otc:1:0',
    'cheap:1',
    'none:1',
  ])('rejects %j with RewardInputError', (spec) => {
    expect(() => parseSearchCost(spec)).toThrow(RewardInputError);
  });

  it('names every kind and rejects an unknown one', () => {
    expect(SEARCH_COST_KINDS).toEqual(['none', 'additive', 'otc']);
    expect(() => validateSearchCost({ kind: 'flat' } as never)).toThrow("'searchCost.kind'");
  });
});

describe('MinimalSearches', () => {
  it('keeps the fewest searches of a correct answer per question, and round-trips', () => {
    const minimal = new MinimalSearches();
    expect(minimal.get('q')).toBeUndefined();
    minimal.observe('q', 2, true);
    minimal.observe('q', 0, false); // a wrong answer does not count
    expect(minimal.get('q')).toBe(2);
    minimal.observe('q', 1, true);
    minimal.observe('q', 3, true);
    expect(minimal.get('q')).toBe(1);
    expect(MinimalSearches.from(minimal.entries()).get('q')).toBe(1);
  });
});
