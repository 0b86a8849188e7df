// The one small search interface the agent loop depends on, and its two implementations: an
// in-process retriever over a loaded index folder, and an HTTP client of a `/retrieve` server
// (ours or the reference Python one). `@sr1/rollout` declares the same shape structurally.

import { splitContents } from './corpus.js';
import { RetrieverHttpError, RetrieverInputError } from './errors.js';
import { type LoadIndexOptions, loadIndex, type RetrievalIndex, type SearchMethod } from './index-folder.js';

/** One retrieved passage. */
export interface SearchHit {
  /** Corpus id. */
  id: string;
  /** First line of `contents` without its quotes. */
  title: string;
  /** `contents` after the first line. */
  text: string;
  /** The raw corpus `contents` ("\"Title\"\ntext"). */
  contents: string;
  /** Retrieval score (BM25, inner product, or RRF); higher is better. */
  score: number;
}

/** Batched search: per query, up to `topk` hits, best first. */
export interface Retriever {
  search(queries: readonly string[], topk: number): Promise<SearchHit[][]>;
}

/** Turns a `{id, contents}` document and a score into a `SearchHit`. */
export function toSearchHit(document: { id: string; contents: string }, score: number): SearchHit {
  const { title, text } = splitContents(document.contents);
  return { id: document.id, title, text, contents: document.contents, score };
}

/** Searches a loaded index folder in this process. */
export class InProcessRetriever implements Retriever {
  readonly index: RetrievalIndex;
  readonly method: SearchMethod;

  constructor(index: RetrievalIndex, method: SearchMethod = index.defaultMethod) {
    this.index = index;
    this.method = method;
  }

  /** Loads the index folder `dir` and wraps it. */
  static async open(
    dir: string,
    options: LoadIndexOptions & { method?: SearchMethod } = {},
  ): Promise<InProcessRetriever> {
    const index = await loadIndex(dir, options);
    return new InProcessRetriever(index, options.method);
  }

  async search(queries: readonly string[], topk: number): Promise<SearchHit[][]> {
    const ranked = await this.index.search(queries, topk, this.method);
    return ranked.map((hits) => hits.map((hit) => toSearchHit(this.index.docs.get(hit.index), hit.score)));
  }

  async close(): Promise<void> {
    await this.index.close();
  }
}

/** Options of the HTTP retriever. */
export interface HttpRetrieverOptions {
  /** Base URL of the server (e.g. `http://127.0.0.1:8000`) or the full `/retrieve` URL. */
  url: string;
  /** Request timeout in milliseconds. */
  timeoutMs?: number;
}

/** A client of `POST /retrieve` (the Search-R1 protocol), with `return_scores: true`. */
export class HttpRetriever implements Retriever {
  readonly url: string;
  private readonly timeoutMs: number;

  constructor(options: HttpRetrieverOptions) {
    const base = options.url.replace(/\/+$/, '');
    this.url = base.endsWith('/retrieve') ? base : `${base}/retrieve`;
    this.timeoutMs = options.timeoutMs ?? 60_000; // a 512-query batch on a CPU e5 encoder can take seconds
  }

  async search(queries: readonly string[], topk: number): Promise<SearchHit[][]> {
    if (!Number.isInteger(topk) || topk < 1)
      throw new RetrieverInputError('topk', `expected a positive integer, got ${topk}`);
    if (queries.length === 0) return [];
    let response: Response;
    try {
      response = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries, topk, return_scores: true }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new RetrieverHttpError(0, `POST ${this.url} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const body = await response.text();
    if (!response.ok)
      throw new RetrieverHttpError(
        response.status,
        `POST ${this.url}: HTTP ${response.status}: ${body.slice(0, 500)}`,
      );
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (error) {
      throw new RetrieverHttpError(response.status, `POST ${this.url}: response is not JSON`, {
        cause: error,
      });
    }
    const result = (parsed as { result?: unknown }).result;
    if (!Array.isArray(result) || result.length !== queries.length) {
      throw new RetrieverHttpError(
        response.status,
        `POST ${this.url}: expected {"result": [...]} with ${queries.length} lists`,
      );
    }
    return result.map((list, q) => {
      if (!Array.isArray(list)) throw new RetrieverHttpError(response.status, `result[${q}] is not a list`);
      return list.map((item: unknown, rank) => {
        const entry = item as { document?: { id?: unknown; contents?: unknown }; score?: unknown };
        const document = entry.document;
        if (
          document === undefined ||
          typeof document.contents !== 'string' ||
          typeof entry.score !== 'number'
        ) {
          throw new RetrieverHttpError(
            response.status,
            `result[${q}][${rank}] is not {"document": {"id", "contents"}, "score"}`,
          );
        }
        return toSearchHit({ id: String(document.id), contents: document.contents }, entry.score);
      });
    });
  }
}
