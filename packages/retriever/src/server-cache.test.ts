// The query cache over real HTTP (issue #17, item 3): repeated and duplicated queries are answered
// from the cache, with hit and miss counts at GET /stats, and cached answers equal uncached ones.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, loadIndex, type RetrievalIndex } from './index-folder.js';
import { QueryCache } from './query-cache.js';
import { HttpRetriever, InProcessRetriever } from './retriever.js';
import { startServer } from './server.js';
import { sampleCorpus } from './test-corpus.js';

const sample = sampleCorpus(300);
let index: RetrievalIndex;
let cached: Awaited<ReturnType<typeof startServer>>;
let uncached: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  await buildIndex({ corpus: sample.file, out: join(sample.dir, 'index'), kind: 'bm25' });
  index = await loadIndex(join(sample.dir, 'index'));
  cached = await startServer({ index, port: 0, cache: new QueryCache({ maxEntries: 100 }) });
  uncached = await startServer({ index, port: 0 });
});
afterAll(async () => {
  await cached?.close();
  await uncached?.close();
  await index?.close();
  rmSync(sample.dir, { recursive: true, force: true });
});

async function stats(
  url: string,
): Promise<{ requests: number; queries: number; cache: Record<string, number> | null }> {
  const response = await fetch(`${url}/stats`);
  expect(response.status).toBe(200);
  return (await response.json()) as {
    requests: number;
    queries: number;
    cache: Record<string, number> | null;
  };
}

describe('GET /stats and the server cache', () => {
  it('counts hits and misses of repeated queries, as GRPO rollouts of one prompt send them', async () => {
    const client = new HttpRetriever({ url: cached.url });
    const reference = new HttpRetriever({ url: uncached.url });
    // one rollout round of a group of 5: four rollouts ask the same thing (spelled slightly differently)
    const round = ['moon landing', 'Moon  landing', 'moon landing ', 'Hollies ballad', 'moon landing'];
    const first = await client.search(round, 3);
    expect(await stats(cached.url)).toMatchObject({
      requests: 1,
      queries: 5,
      cache: { hits: 3, misses: 2, entries: 2 },
    });
    const second = await client.search(['moon landing', 'Hollies ballad', 'river in europe'], 3);
    expect((await stats(cached.url)).cache).toMatchObject({ hits: 5, misses: 3, entries: 3 });
    expect((await stats(cached.url)).cache!.hitRate).toBeCloseTo(5 / 8, 12);
    // cached answers are exactly the uncached server's
    expect(first).toEqual(await reference.search(round, 3));
    expect(second).toEqual(await reference.search(['moon landing', 'Hollies ballad', 'river in europe'], 3));
    // a different topk is a different entry
    await client.search(['moon landing'], 5);
    expect((await stats(cached.url)).cache).toMatchObject({ hits: 5, misses: 4, entries: 4 });
  });

  it('reports cache null without --cache, and still counts requests', async () => {
    const before = await stats(uncached.url);
    expect(before.cache).toBeNull();
    await new HttpRetriever({ url: uncached.url }).search(['a', 'b'], 1);
    expect(await stats(uncached.url)).toMatchObject({
      requests: before.requests + 1,
      queries: before.queries + 2,
    });
  });
});

describe('InProcessRetriever with a cache', () => {
  it('answers repeats from the cache with the same hits as an uncached retriever', async () => {
    const retriever = new InProcessRetriever(index, { cache: { maxEntries: 10 } });
    const plain = new InProcessRetriever(index);
    const queries = ['film director', 'film director', 'Film director', 'river'];
    expect(await retriever.search(queries, 3)).toEqual(await plain.search(queries, 3));
    expect(await retriever.search(queries, 3)).toEqual(await plain.search(queries, 3));
    expect(retriever.cache!.stats()).toMatchObject({ misses: 2, hits: 6 });
  });
});
