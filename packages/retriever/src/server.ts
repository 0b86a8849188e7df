// The retrieval server: `POST /retrieve` exactly as the Search-R1 reference (same request, same
// response, correct `return_scores: false` for any batch size) plus `GET /health`, `GET /stats` and
// `POST /documents` (the agent's `open` tool: the documents of passage ids),
// on node:http. Every bad request gets a 4xx JSON error `{"error": {"code", "message"}}` and the
// server stays up: one request's work and response are bounded by a budget derived from the heap
// (413 naming it), slow clients time out, and `close` does not wait for them.

import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { RequestTooLargeError, RetrieverInputError } from './errors.js';
import type { RetrievalIndex, SearchMethod } from './index-folder.js';
import { IngestedSources } from './ingest/sources.js';
import type { QueryCache } from './query-cache.js';
import { openPassage } from './retriever.js';

/** Options of `createServer`. */
export interface ServerOptions {
  index: RetrievalIndex;
  /** Search method (default: the index kind); one the index has no part for fails at start. */
  method?: SearchMethod;
  /** topk when a request gives none (the reference's default); at most `maxTopk`. */
  defaultTopk?: number;
  /** Largest topk a request may ask for. */
  maxTopk?: number;
  /** Most queries in one request. */
  maxQueries?: number;
  /** Longest query, in characters. */
  maxQueryLength?: number;
  /** Largest request body in bytes. */
  bodyLimit?: number;
  /** Most results (queries × topk) in one request (default: `resultBudget` of this process's heap). */
  maxResultsPerRequest?: number;
  /** Largest response body in bytes (default: a quarter of the heap limit). */
  maxResponseBytes?: number;
  /** Milliseconds from a request's first byte to its complete body (node:http `requestTimeout`). */
  requestTimeoutMs?: number;
  /** Milliseconds to receive a request's headers (node:http `headersTimeout`). */
  headersTimeoutMs?: number;
  /** One line per request on stderr. */
  logger?: boolean;
  /** Cache of search results (hit and miss counts at `GET /stats`). */
  cache?: QueryCache;
}

export const SERVER_DEFAULTS = {
  defaultTopk: 3, // the reference server's --topk default and the paper's setting
  maxTopk: 1000, // far above any agent use; bounds the work one request can ask for
  maxQueries: 8192, // 16× the paper's 512-prompt training batch
  maxQueryLength: 8192, // characters; generated queries are a few dozen
  bodyLimit: 16 * 1024 * 1024, // 8192 queries of ~2 KB fit
  requestTimeoutMs: 30_000, // an 8192-query body arrives in well under a second on a LAN; a stalled client is cut
  headersTimeoutMs: 10_000, // headers are one packet; this only stops clients that trickle them
  heapShare: 0.25, // one request may use a quarter of the heap, so a few at once still fit
  host: '127.0.0.1', // local only unless asked: the server has no authentication
  port: 8000, // the reference server's port
} as const;

/**
 * Most results (queries × topk) one request may ask for so that its response fits in
 * `SERVER_DEFAULTS.heapShare` of the heap: each result costs its passage (about
 * `averagePassageBytes`) in about four copies while the response is built (the stored line, the
 * item, the joined list, the body) plus the hit objects.
 */
export function resultBudget(options: { heapLimitBytes: number; averagePassageBytes: number }): number {
  const bytesPerResult = 4 * (options.averagePassageBytes + 64) + 128;
  return Math.max(1, Math.floor((options.heapLimitBytes * SERVER_DEFAULTS.heapShare) / bytesPerResult));
}

interface Limits {
  defaultTopk: number;
  maxTopk: number;
  maxQueries: number;
  maxQueryLength: number;
  bodyLimit: number;
  maxResultsPerRequest: number;
  maxResponseBytes: number;
}

interface RetrieveBody {
  queries: string[];
  topk: number;
  returnScores: boolean;
}

function validate(body: unknown, options: Limits): RetrieveBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new RetrieverInputError(
      'body',
      'expected a JSON object {"queries": [string], "topk"?: int, "return_scores"?: bool}',
    );
  }
  const record = body as Record<string, unknown>;
  const queries = record.queries;
  if (queries === undefined) throw new RetrieverInputError('queries', 'missing');
  if (!Array.isArray(queries)) throw new RetrieverInputError('queries', 'expected an array of strings');
  if (queries.length > options.maxQueries) {
    throw new RetrieverInputError(
      'queries',
      `${queries.length} queries in one request; at most ${options.maxQueries}`,
    );
  }
  queries.forEach((query, index) => {
    if (typeof query !== 'string') throw new RetrieverInputError(`queries[${index}]`, 'expected a string');
    if (query.length > options.maxQueryLength) {
      throw new RetrieverInputError(
        `queries[${index}]`,
        `${query.length} characters; at most ${options.maxQueryLength}`,
      );
    }
  });
  let topk = options.defaultTopk;
  if (record.topk !== undefined && record.topk !== null) {
    if (typeof record.topk !== 'number' || !Number.isInteger(record.topk)) {
      throw new RetrieverInputError('topk', 'expected an integer');
    }
    if (record.topk < 1 || record.topk > options.maxTopk) {
      throw new RetrieverInputError('topk', `${record.topk} is outside [1, ${options.maxTopk}]`);
    }
    topk = record.topk;
  }
  if (queries.length * topk > options.maxResultsPerRequest) {
    throw new RequestTooLargeError(
      'queries',
      `${queries.length} queries × topk ${topk} = ${queries.length * topk} results; at most ${options.maxResultsPerRequest} per request (a budget from the server's heap): split the batch or lower topk`,
    );
  }
  const returnScores = record.return_scores ?? false;
  if (typeof returnScores !== 'boolean') throw new RetrieverInputError('return_scores', 'expected a boolean');
  return { queries: queries as string[], topk, returnScores };
}

/** An error answered with `status` and `{"error": {"code", "message"}}`. */
class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendJson(response: ServerResponse, status: number, body: string, close = false): void {
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(close ? { connection: 'close' } : {}),
  });
  response.end(body);
}

function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/** The request body as JSON: 415 unless application/json, 413 over `limit` bytes, 400 unless it parses. */
function readJsonBody(request: IncomingMessage, limit: number): Promise<unknown> {
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    request.resume();
    return Promise.reject(
      new HttpError(
        415,
        'unsupported_media_type',
        `content type '${mediaType}' is not supported; send application/json`,
      ),
    );
  }
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  const tooLarge = () =>
    new HttpError(413, 'body_too_large', `request body over ${limit} bytes; at most ${limit}`);
  if (declared > limit) {
    request.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let failed = false;
    request.on('data', (chunk: Buffer) => {
      if (failed) return;
      received += chunk.length;
      if (received > limit) {
        failed = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    request.on('error', (error) => {
      if (!failed) reject(error);
      failed = true;
    });
    request.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks, received).toString('utf8');
      if (text.trim().length === 0) {
        reject(new HttpError(400, 'empty_body', 'empty body; expected a JSON object'));
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch (error) {
        reject(new HttpError(400, 'invalid_json', `body is not valid JSON (${(error as Error).message})`));
      }
    });
  });
}

/** Refuses a method the index has no part for, so a misconfigured server fails at start. */
function checkMethod(index: RetrievalIndex, method: SearchMethod): void {
  const needsBm25 = method === 'bm25' || method === 'hybrid';
  const needsDense = method === 'dense' || method === 'hybrid';
  const missing =
    needsBm25 && index.bm25 === undefined
      ? 'BM25'
      : needsDense && (index.encoder === undefined || index.vectors === undefined)
        ? 'dense'
        : undefined;
  if (missing !== undefined) {
    throw new RetrieverInputError(
      'method',
      `method ${method}: the index at ${index.dir} has no ${missing} part (kind ${index.manifest.kind}); serve it with --method ${index.manifest.kind}`,
    );
  }
}

/**
 * Creates (does not start) the server. Call `.listen(port, host)` or use `startServer`. Throws
 * `RetrieverInputError` for a method the index cannot answer or a default topk above `maxTopk`.
 */
export function createServer(options: ServerOptions): Server {
  const index = options.index;
  const heapLimitBytes = getHeapStatistics().heap_size_limit;
  const limits: Limits = {
    defaultTopk: options.defaultTopk ?? SERVER_DEFAULTS.defaultTopk,
    maxTopk: options.maxTopk ?? SERVER_DEFAULTS.maxTopk,
    maxQueries: options.maxQueries ?? SERVER_DEFAULTS.maxQueries,
    maxQueryLength: options.maxQueryLength ?? SERVER_DEFAULTS.maxQueryLength,
    bodyLimit: options.bodyLimit ?? SERVER_DEFAULTS.bodyLimit,
    maxResultsPerRequest:
      options.maxResultsPerRequest ??
      resultBudget({
        heapLimitBytes,
        averagePassageBytes: index.size === 0 ? 0 : index.docs.totalBytes / index.size,
      }),
    maxResponseBytes: options.maxResponseBytes ?? Math.floor(heapLimitBytes * SERVER_DEFAULTS.heapShare),
  };
  if (
    !Number.isInteger(limits.defaultTopk) ||
    limits.defaultTopk < 1 ||
    limits.defaultTopk > limits.maxTopk
  ) {
    throw new RetrieverInputError(
      'topk',
      `default topk ${limits.defaultTopk} must be in [1, ${limits.maxTopk}]: at most ${limits.maxTopk}, the per-request cap`,
    );
  }
  const method = options.method ?? index.defaultMethod;
  checkMethod(index, method);
  // An index made by `ingest` has each passage's source: served next to the document (reference
  // clients read only `document` and `score`, so the extra field is invisible to them).
  const sources = IngestedSources.open(index.dir, index.size);
  const cache = options.cache;
  const counters = { requests: 0, queries: 0 };

  const retrieve = async (request: IncomingMessage): Promise<string> => {
    const body = validate(await readJsonBody(request, limits.bodyLimit), limits);
    counters.requests++;
    counters.queries += body.queries.length;
    const ranked =
      cache === undefined
        ? await index.search(body.queries, body.topk, method)
        : await cache.search(body.queries, body.topk, method, method === 'bm25', (batch) =>
            index.search(batch, body.topk, method),
          );
    // Documents are stored as canonical {"id","contents"} JSON lines, spliced in without re-encoding.
    let bytes = 0;
    const lists = ranked.map((hits) => {
      const items = hits.map((hit) => {
        const document = index.docs.rawJson(hit.index);
        const source = sources === undefined ? '' : `,"source":${sources.rawSource(hit.index)}`;
        const item = body.returnScores
          ? `{"document":${document},"score":${JSON.stringify(hit.score)}${source}}`
          : source === ''
            ? document
            : `${document.slice(0, -1)}${source}}`; // inside the document object
        bytes += item.length + 1;
        if (bytes > limits.maxResponseBytes) {
          throw new RequestTooLargeError(
            'topk',
            `the response would exceed ${limits.maxResponseBytes} bytes; at most ${limits.maxResponseBytes} bytes per response: split the batch or lower topk`,
          );
        }
        return item;
      });
      return `[${items.join(',')}]`;
    });
    return `{"result":[${lists.join(',')}]}`;
  };

  // The `open` tool's route (not in the reference protocol): `{"ids": [string]}` →
  // `{"documents": [{"id", "title", "text", "whole", "source"?} | null]}`, null for an unknown id.
  const documents = async (request: IncomingMessage): Promise<string> => {
    const body = (await readJsonBody(request, limits.bodyLimit)) as { ids?: unknown } | null;
    const ids = body !== null && typeof body === 'object' ? body.ids : undefined;
    if (!Array.isArray(ids)) throw new RetrieverInputError('ids', 'expected {"ids": [string]}');
    if (ids.length > limits.maxQueries)
      throw new RetrieverInputError('ids', `${ids.length} ids in one request; at most ${limits.maxQueries}`);
    let bytes = 0;
    const items = ids.map((id, i) => {
      if (typeof id !== 'string') throw new RetrieverInputError(`ids[${i}]`, 'expected a string');
      const item = JSON.stringify(openPassage(index, sources, id));
      bytes += item.length + 1;
      if (bytes > limits.maxResponseBytes) {
        throw new RequestTooLargeError(
          'ids',
          `the response would exceed ${limits.maxResponseBytes} bytes; at most ${limits.maxResponseBytes} bytes per response: ask for fewer ids`,
        );
      }
      return item;
    });
    return `{"documents":[${items.join(',')}]}`;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method === 'POST' && path === '/retrieve') {
      sendJson(response, 200, await retrieve(request));
    } else if (request.method === 'POST' && path === '/documents') {
      sendJson(response, 200, await documents(request));
    } else if (request.method === 'GET' && path === '/health') {
      sendJson(
        response,
        200,
        JSON.stringify({
          status: 'ok',
          passages: index.size,
          kind: index.manifest.kind,
          method,
          encoder: index.manifest.dense?.encoder.id ?? null,
        }),
      );
    } else if (request.method === 'GET' && path === '/stats') {
      sendJson(
        response,
        200,
        JSON.stringify({
          requests: counters.requests,
          queries: counters.queries,
          cache: cache?.stats() ?? null,
        }),
      );
    } else {
      request.resume();
      throw new HttpError(404, 'not_found', `no route ${request.method} ${request.url}`);
    }
  };

  const server = createHttpServer(
    {
      requestTimeout: options.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
      headersTimeout: options.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs,
      connectionsCheckingInterval: 1000, // how often the two timeouts are checked (node's default: 30 s)
    },
    (request, response) => {
      const started = performance.now();
      handle(request, response)
        .catch((error: unknown) => {
          const [status, code] =
            error instanceof HttpError
              ? [error.status, error.code]
              : error instanceof RequestTooLargeError
                ? [413, error.code]
                : error instanceof RetrieverInputError
                  ? [400, error.code]
                  : [500, 'internal'];
          if (response.headersSent) {
            response.destroy();
            return;
          }
          // the rest of an unread body is not waited for: the connection closes after the answer
          sendJson(
            response,
            status,
            errorBody(code, (error as Error)?.message ?? String(error)),
            !request.complete,
          );
        })
        .finally(() => {
          if (options.logger === true) {
            process.stderr.write(
              `${request.method} ${request.url} ${response.statusCode} ${(performance.now() - started).toFixed(1)} ms\n`,
            );
          }
        });
    },
  );
  server.on('close', () => sources?.close());
  return server;
}

/** Starts a server; resolves with its URL, the node:http server and a `close` that does not wait for slow clients. */
export async function startServer(
  options: ServerOptions & { host?: string; port?: number },
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(options);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? SERVER_DEFAULTS.port, options.host ?? SERVER_DEFAULTS.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections(); // in-flight and idle alike: shutdown never waits on a client
      }),
  };
}
