// An LRU cache of search results keyed by (normalised query, method, topk), bounded by entries and
// bytes, shared by the in-process retriever and the server. GRPO samples n rollouts of one prompt,
// which often issue the same searches: the cache answers the repeats without searching again.

import { RetrieverContractError } from '@sr1/core';
import { RetrieverInputError } from './errors.js';
import type { ScoredIndex } from './top-k.js';

/** Options of `QueryCache`. */
export interface QueryCacheOptions {
  /** Most cached (query, method, topk) entries. */
  maxEntries: number;
  /** Most bytes the cached entries may take (estimated: key text + 16 bytes per hit + overhead). */
  maxBytes?: number;
}

export const QUERY_CACHE_DEFAULTS = {
  maxBytes: 64 * 1024 * 1024, // 64 MiB: ~1M hits of topk 3 at 16 B each plus keys; small next to an index
  entryOverheadBytes: 96, // Map slot, entry object and array headers, roughly, per entry in V8
} as const;

/** Counters of a `QueryCache`, as `GET /stats` reports them. */
export interface QueryCacheStats {
  /** Queries answered without searching (cached, or identical to another query of the same batch or of a search in flight). */
  hits: number;
  /** Queries that ran a search. */
  misses: number;
  /** hits / (hits + misses), 0 before the first query. */
  hitRate: number;
  entries: number;
  bytes: number;
  maxEntries: number;
  maxBytes: number;
  /** Entries dropped to respect `maxEntries` or `maxBytes`. */
  evictions: number;
  /** Wall seconds spent in searches that ran on misses (so hits × searchSeconds / misses ≈ time saved). */
  searchSeconds: number;
}

/**
 * The text a query is cached and searched under: Unicode NFC, trimmed, runs of whitespace
 * collapsed to one space, and lower-cased when the search method ignores case (BM25's analyser
 * lower-cases every token), so "Who  is X" and "who is x" share one entry only where they would
 * get the same answer anyway.
 */
export function normalizeQuery(query: string, caseInsensitive: boolean): string {
  const normalized = query.normalize('NFC').trim().replace(/\s+/g, ' ');
  return caseInsensitive ? normalized.toLowerCase() : normalized;
}

interface Entry {
  hits: readonly ScoredIndex[];
  bytes: number;
}

/** A bounded LRU of per-query search results. One instance may serve many concurrent batches. */
export class QueryCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<readonly ScoredIndex[]>>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private searchSeconds = 0;

  constructor(options: QueryCacheOptions) {
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) {
      throw new RetrieverInputError(
        'cache.maxEntries',
        `expected a positive integer, got ${options.maxEntries}`,
      );
    }
    const maxBytes = options.maxBytes ?? QUERY_CACHE_DEFAULTS.maxBytes;
    if (!Number.isInteger(maxBytes) || maxBytes < 1) {
      throw new RetrieverInputError('cache.maxBytes', `expected a positive integer, got ${maxBytes}`);
    }
    this.maxEntries = options.maxEntries;
    this.maxBytes = maxBytes;
  }

  /** The cache key of one query. */
  static key(normalizedQuery: string, method: string, topk: number): string {
    return `${method}\u0000${topk}\u0000${normalizedQuery}`;
  }

  /**
   * Answers a batch through the cache: each query is normalised; cached ones are served from the
   * cache, repeats inside the batch (and queries already being searched by another call) share one
   * search, and the remaining distinct queries go to `search` in ONE batched call.
   * @param search - runs a batch of normalised queries, returning per query its ranked hits
   */
  async search(
    queries: readonly string[],
    topk: number,
    method: string,
    caseInsensitive: boolean,
    search: (normalizedQueries: string[]) => Promise<ScoredIndex[][]>,
  ): Promise<ScoredIndex[][]> {
    const normalized = queries.map((query) => normalizeQuery(query, caseInsensitive));
    const keys = normalized.map((query) => QueryCache.key(query, method, topk));
    // Per query: its answer, or the key of a search this call runs (repeats in the batch share it).
    const answers: (readonly ScoredIndex[] | Promise<readonly ScoredIndex[]> | undefined)[] = [];
    const missKeys: string[] = [];
    const missQueries: string[] = [];
    const missSeen = new Set<string>();
    keys.forEach((key, q) => {
      const cached = this.lookup(key) ?? this.inFlight.get(key);
      if (cached !== undefined || missSeen.has(key)) {
        this.hits++;
        answers.push(cached);
        return;
      }
      this.misses++;
      missSeen.add(key);
      missKeys.push(key);
      missQueries.push(normalized[q]!);
      answers.push(undefined);
    });

    const searched = new Map<string, readonly ScoredIndex[]>();
    if (missQueries.length > 0) {
      const started = performance.now();
      const batch = search(missQueries).then((lists) => {
        if (lists.length !== missQueries.length) {
          throw new RetrieverContractError(
            `search returned ${lists.length} result lists for ${missQueries.length} queries`,
          );
        }
        return lists;
      });
      missKeys.forEach((key, slot) => {
        const promise = batch.then((lists) => lists[slot]!);
        promise.catch(() => {}); // the error reaches this caller through `batch`, and other callers through their await
        this.inFlight.set(key, promise);
      });
      try {
        const lists = await batch;
        this.searchSeconds += (performance.now() - started) / 1000;
        missKeys.forEach((key, slot) => {
          searched.set(key, this.store(key, lists[slot]!));
        });
      } finally {
        for (const key of missKeys) this.inFlight.delete(key);
      }
    }

    const resolved = await Promise.all(answers.map((answer, q) => answer ?? searched.get(keys[q]!)!));
    // Fresh objects per answer: callers may keep or change what they get.
    return resolved.map((hits) => hits.map((hit) => ({ index: hit.index, score: hit.score })));
  }

  private lookup(key: string, touch = true): readonly ScoredIndex[] | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (touch) {
      this.entries.delete(key);
      this.entries.set(key, entry); // most recently used last
    }
    return entry.hits;
  }

  /** Stores a copy of `hits` under `key` (evicting least recently used entries); returns the copy. */
  private store(key: string, hits: readonly ScoredIndex[]): readonly ScoredIndex[] {
    const copy = Object.freeze(hits.map((hit) => Object.freeze({ index: hit.index, score: hit.score })));
    const bytes = key.length * 2 + copy.length * 16 + QUERY_CACHE_DEFAULTS.entryOverheadBytes;
    const previous = this.entries.get(key);
    if (previous !== undefined) {
      this.entries.delete(key);
      this.bytes -= previous.bytes;
    }
    if (bytes > this.maxBytes) return copy; // would evict everything and still not fit
    this.entries.set(key, { hits: copy, bytes });
    this.bytes += bytes;
    while (this.entries.size > this.maxEntries || this.bytes > this.maxBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.bytes -= this.entries.get(oldest)!.bytes;
      this.entries.delete(oldest);
      this.evictions++;
    }
    return copy;
  }

  /** Current counters. */
  stats(): QueryCacheStats {
    const total = this.hits + this.misses;
    return {
      hits: this.hits,
      misses: this.misses,
      hitRate: total === 0 ? 0 : this.hits / total,
      entries: this.entries.size,
      bytes: this.bytes,
      maxEntries: this.maxEntries,
      maxBytes: this.maxBytes,
      evictions: this.evictions,
      searchSeconds: this.searchSeconds,
    };
  }

  /** Drops every entry (counters are kept). */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
