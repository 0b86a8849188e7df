import { describe, expect, it } from 'vitest';
import { normalizeQuery, QueryCache } from './query-cache.js';
import type { ScoredIndex } from './top-k.js';

/** A fake searcher that records every batch it is asked for; hits encode the query's length. */
function recordingSearch(calls: string[][]) {
  return async (queries: string[]): Promise<ScoredIndex[][]> => {
    calls.push(queries);
    return queries.map((query) => [{ index: query.length, score: 1 }]);
  };
}

describe('normalizeQuery', () => {
  it('trims, collapses whitespace and lower-cases only for case-insensitive methods', () => {
    expect(normalizeQuery('  Who   wrote\tHamlet ', false)).toBe('Who wrote Hamlet');
    expect(normalizeQuery('  Who   wrote\tHamlet ', true)).toBe('who wrote hamlet');
    expect(normalizeQuery('Cafe\u0301', false)).toBe('Café'); // NFC
  });
});

describe('QueryCache', () => {
  it('searches each distinct query once: repeats in a batch and in later batches are hits', async () => {
    const calls: string[][] = [];
    const cache = new QueryCache({ maxEntries: 10 });
    const search = recordingSearch(calls);
    const first = await cache.search(['a b', 'A  B', 'c', 'a b'], 3, 'bm25', true, search);
    expect(calls).toEqual([['a b', 'c']]);
    expect(first.map((hits) => hits[0]!.index)).toEqual([3, 3, 1, 3]);
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 2, entries: 2 });
    await cache.search(['c', 'a b', 'd'], 3, 'bm25', true, search);
    expect(calls).toEqual([['a b', 'c'], ['d']]);
    expect(cache.stats()).toMatchObject({ hits: 4, misses: 3, entries: 3 });
  });

  it('keys by method and topk, and by case only where the method is case-sensitive', async () => {
    const calls: string[][] = [];
    const cache = new QueryCache({ maxEntries: 10 });
    const search = recordingSearch(calls);
    await cache.search(['Paris'], 3, 'dense', false, search);
    await cache.search(['paris'], 3, 'dense', false, search);
    await cache.search(['Paris'], 5, 'dense', false, search);
    await cache.search(['Paris'], 3, 'bm25', true, search);
    expect(calls).toEqual([['Paris'], ['paris'], ['Paris'], ['paris']]);
    expect(cache.stats().hits).toBe(0);
  });

  it('evicts the least recently used entry past maxEntries, and bounds bytes', async () => {
    const calls: string[][] = [];
    const cache = new QueryCache({ maxEntries: 2 });
    const search = recordingSearch(calls);
    await cache.search(['a'], 1, 'bm25', true, search);
    await cache.search(['b'], 1, 'bm25', true, search);
    await cache.search(['a'], 1, 'bm25', true, search); // a is now the most recent
    await cache.search(['c'], 1, 'bm25', true, search); // evicts b
    await cache.search(['a'], 1, 'bm25', true, search);
    await cache.search(['b'], 1, 'bm25', true, search);
    expect(calls).toEqual([['a'], ['b'], ['c'], ['b']]);
    expect(cache.stats()).toMatchObject({ entries: 2, evictions: 2 });

    const small = new QueryCache({ maxEntries: 100, maxBytes: 300 });
    await small.search(['q1', 'q2', 'q3', 'q4', 'q5'], 1, 'bm25', true, recordingSearch([]));
    const stats = small.stats();
    expect(stats.bytes).toBeLessThanOrEqual(300);
    expect(stats.entries).toBeLessThan(5);
    expect(stats.entries).toBeGreaterThan(0);
  });

  it('shares a search in flight with a concurrent identical query', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls: string[][] = [];
    const slow = async (queries: string[]) => {
      calls.push(queries);
      await gate;
      return queries.map(() => [{ index: 7, score: 2 }]);
    };
    const cache = new QueryCache({ maxEntries: 10 });
    const first = cache.search(['same'], 3, 'bm25', true, slow);
    const second = cache.search(['same'], 3, 'bm25', true, slow);
    release();
    expect(await first).toEqual([[{ index: 7, score: 2 }]]);
    expect(await second).toEqual([[{ index: 7, score: 2 }]]);
    expect(calls).toHaveLength(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('returns copies: changing an answer does not change the cache', async () => {
    const cache = new QueryCache({ maxEntries: 10 });
    const search = recordingSearch([]);
    const [hits] = await cache.search(['x'], 1, 'bm25', true, search);
    hits![0]!.score = 99;
    const [again] = await cache.search(['x'], 1, 'bm25', true, search);
    expect(again![0]!.score).toBe(1);
  });

  it('passes a failed search to the caller and caches nothing for it', async () => {
    const cache = new QueryCache({ maxEntries: 10 });
    await expect(
      cache.search(['boom'], 1, 'bm25', true, async () => {
        throw new Error('disk gone');
      }),
    ).rejects.toThrow('disk gone');
    expect(cache.stats().entries).toBe(0);
    const calls: string[][] = [];
    await cache.search(['boom'], 1, 'bm25', true, recordingSearch(calls));
    expect(calls).toEqual([['boom']]);
  });

  it('refuses a non-positive size', () => {
    expect(() => new QueryCache({ maxEntries: 0 })).toThrow(/cache\.maxEntries/);
  });
});
