// The one small search interface the agent loop depends on, and its two implementations: an
// in-process retriever over a loaded index folder, and an HTTP client of a `/retrieve` server
// (ours or the reference Python one). The interface is @sr1/spec's `Retriever`, which both implement.

import type { OpenedDocument, PassageSource, Retriever, SearchHit } from '@sr1/spec';
import { splitContents } from './corpus.js';
import { RetrieverHttpError, RetrieverInputError } from './errors.js';
import { type LoadIndexOptions, loadIndex, type RetrievalIndex, type SearchMethod } from './index-folder.js';
import { IngestedSources } from './ingest/sources.js';
import { QueryCache, type QueryCacheOptions } from './query-cache.js';

// The search contract is declared in @sr1/spec; re-exported for this package's modules and users.
export type { OpenedDocument, Retriever, SearchHit } from '@sr1/spec';

/** Turns a `{id, contents}` document, a score and (for ingested indexes) a source into a `SearchHit`. */
export function toSearchHit(
  document: { id: string; contents: string },
  score: number,
  source?: PassageSource,
): SearchHit {
  const { title, text } = splitContents(document.contents);
  return { id: document.id, title, text, contents: document.contents, score, ...(source ? { source } : {}) };
}

/**
 * The document a passage came from: for an ingested index (`sources`) the whole document, as
 * ingested; otherwise the passage itself. Null for an id the index does not have.
 */
export function openPassage(
  index: RetrievalIndex,
  sources: IngestedSources | undefined,
  id: string,
): OpenedDocument | null {
  const position = index.docs.indexOf(id);
  if (position === undefined) return null;
  if (sources === undefined) {
    const { title, text } = splitContents(index.docs.get(position).contents);
    return { id, title, text, whole: false };
  }
  const document = sources.documentOf(position);
  return { id, title: document.title, text: document.text, whole: true, source: sources.source(position) };
}

/** Options of `InProcessRetriever` besides the index. */
export interface InProcessRetrieverOptions {
  /** Search method (default: the index kind). */
  method?: SearchMethod;
  /** Cache of search results: a shared `QueryCache`, or the size of a new one. */
  cache?: QueryCache | QueryCacheOptions;
}

/** Searches a loaded index folder in this process. */
export class InProcessRetriever implements Retriever {
  readonly index: RetrievalIndex;
  readonly method: SearchMethod;
  /** The result cache, when one was given. */
  readonly cache: QueryCache | undefined;
  /** Passage sources, for an index made by `ingest`. */
  readonly sources: IngestedSources | undefined;

  constructor(index: RetrievalIndex, options: SearchMethod | InProcessRetrieverOptions = {}) {
    const resolved = typeof options === 'string' ? { method: options } : options;
    this.index = index;
    this.method = resolved.method ?? index.defaultMethod;
    const cache = resolved.cache;
    this.cache = cache === undefined || cache instanceof QueryCache ? cache : new QueryCache(cache);
    this.sources = IngestedSources.open(index.dir, index.size);
  }

  /** Loads the index folder `dir` and wraps it. */
  static async open(
    dir: string,
    options: LoadIndexOptions & InProcessRetrieverOptions = {},
  ): Promise<InProcessRetriever> {
    const index = await loadIndex(dir, options);
    try {
      return new InProcessRetriever(index, options);
    } catch (error) {
      await index.close();
      throw error;
    }
  }

  async search(queries: readonly string[], topk: number): Promise<SearchHit[][]> {
    const method = this.method;
    const ranked =
      this.cache === undefined
        ? await this.index.search(queries, topk, method)
        : await this.cache.search(queries, topk, method, method === 'bm25', (batch) =>
            this.index.search(batch, topk, method),
          );
    return ranked.map((hits) =>
      hits.map((hit) =>
        toSearchHit(this.index.docs.get(hit.index), hit.score, this.sources?.source(hit.index)),
      ),
    );
  }

  /**
   * The document a passage came from: for an ingested index the whole document (all its text, as
   * ingested), otherwise the passage itself. Throws `RetrieverInputError` for an unknown id.
   */
  openDocument(id: string): OpenedDocument {
    const document = openPassage(this.index, this.sources, id);
    if (document === null)
      throw new RetrieverInputError('id', `no passage with id '${id}' in ${this.index.dir}`);
    return document;
  }

  /** `openDocument` for a batch of ids, null for an unknown id (the agent loop's `open` tool). */
  async open(ids: readonly string[]): Promise<(OpenedDocument | null)[]> {
    return ids.map((id) => openPassage(this.index, this.sources, id));
  }

  async close(): Promise<void> {
    this.sources?.close();
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

/**
 * A client of `POST /retrieve` (the Search-R1 protocol), with `return_scores: true`, and of sr1's
 * `POST /documents` (the `open` tool; the reference server has no such route).
 */
export class HttpRetriever implements Retriever {
  readonly url: string;
  /** `POST /documents` beside `/retrieve`. */
  readonly documentsUrl: string;
  private readonly timeoutMs: number;

  constructor(options: HttpRetrieverOptions) {
    const base = options.url.replace(/\/+$/, '');
    this.url = base.endsWith('/retrieve') ? base : `${base}/retrieve`;
    this.documentsUrl = `${this.url.slice(0, -'/retrieve'.length)}/documents`;
    this.timeoutMs = options.timeoutMs ?? 60_000; // a 512-query batch on a CPU e5 encoder can take seconds
  }

  /** The documents of passage ids (`POST /documents`), null for an id the server does not have. */
  async open(ids: readonly string[]): Promise<(OpenedDocument | null)[]> {
    if (ids.length === 0) return [];
    let response: Response;
    try {
      response = await fetch(this.documentsUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new RetrieverHttpError(0, `POST ${this.documentsUrl} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const body = await response.text();
    if (!response.ok)
      throw new RetrieverHttpError(
        response.status,
        `POST ${this.documentsUrl}: HTTP ${response.status}: ${body.slice(0, 500)}`,
      );
    let documents: unknown;
    try {
      documents = (JSON.parse(body) as { documents?: unknown }).documents;
    } catch (error) {
      throw new RetrieverHttpError(response.status, `POST ${this.documentsUrl}: response is not JSON`, {
        cause: error,
      });
    }
    if (!Array.isArray(documents) || documents.length !== ids.length) {
      throw new RetrieverHttpError(
        response.status,
        `POST ${this.documentsUrl}: expected {"documents": [...]} with ${ids.length} entries`,
      );
    }
    return documents.map((document: unknown, i) => {
      if (document === null) return null;
      const entry = document as Partial<OpenedDocument>;
      if (typeof entry.title !== 'string' || typeof entry.text !== 'string')
        throw new RetrieverHttpError(
          response.status,
          `documents[${i}] is not {"id", "title", "text", "whole"}`,
        );
      return entry as OpenedDocument;
    });
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
        const source = (entry as { source?: unknown }).source;
        return toSearchHit(
          { id: String(document.id), contents: document.contents },
          entry.score,
          source !== null && typeof source === 'object' ? (source as PassageSource) : undefined,
        );
      });
    });
  }
}
