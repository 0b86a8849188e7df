// The retrieval server: `POST /retrieve` exactly as the Search-R1 reference (same request, same
// response, correct `return_scores: false` for any batch size) plus `GET /health` and `GET /stats`, on fastify.
// Every bad request gets a 4xx JSON error `{"error": {"code", "message"}}` and the server stays up.

import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { RetrieverInputError } from './errors.js';
import type { RetrievalIndex, SearchMethod } from './index-folder.js';
import { IngestedSources } from './ingest/sources.js';
import type { QueryCache } from './query-cache.js';

/** Options of `createServer`. */
export interface ServerOptions {
  index: RetrievalIndex;
  /** Search method (default: the index kind). */
  method?: SearchMethod;
  /** topk when a request gives none (the reference's default). */
  defaultTopk?: number;
  /** Largest topk a request may ask for. */
  maxTopk?: number;
  /** Most queries in one request. */
  maxQueries?: number;
  /** Longest query, in characters. */
  maxQueryLength?: number;
  /** Largest request body in bytes. */
  bodyLimit?: number;
  /** fastify request logging. */
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
  host: '127.0.0.1', // local only unless asked: the server has no authentication
  port: 8000, // the reference server's port
} as const;

interface RetrieveBody {
  queries: string[];
  topk: number;
  returnScores: boolean;
}

function validate(
  body: unknown,
  options: Required<Omit<ServerOptions, 'index' | 'method' | 'logger' | 'cache'>>,
): RetrieveBody {
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
  const returnScores = record.return_scores ?? false;
  if (typeof returnScores !== 'boolean') throw new RetrieverInputError('return_scores', 'expected a boolean');
  return { queries: queries as string[], topk, returnScores };
}

/** Creates (does not start) the fastify app. Call `.listen({ host, port })` or use `startServer`. */
export function createServer(options: ServerOptions): FastifyInstance {
  const limits = {
    defaultTopk: options.defaultTopk ?? SERVER_DEFAULTS.defaultTopk,
    maxTopk: options.maxTopk ?? SERVER_DEFAULTS.maxTopk,
    maxQueries: options.maxQueries ?? SERVER_DEFAULTS.maxQueries,
    maxQueryLength: options.maxQueryLength ?? SERVER_DEFAULTS.maxQueryLength,
    bodyLimit: options.bodyLimit ?? SERVER_DEFAULTS.bodyLimit,
  };
  const index = options.index;
  const method = options.method ?? index.defaultMethod;
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: limits.bodyLimit });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error instanceof RetrieverInputError) {
      void reply.code(400).send({ error: { code: error.code, message: error.message } });
      return;
    }
    const status =
      error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500
        ? error.statusCode
        : 500;
    void reply.code(status).send({ error: { code: error.code ?? 'internal', message: error.message } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ error: { code: 'not_found', message: `no route ${request.method} ${request.url}` } });
  });

  app.get('/health', async () => ({
    status: 'ok',
    passages: index.size,
    kind: index.manifest.kind,
    method,
    encoder: index.manifest.dense?.encoder.id ?? null,
  }));

  // An index made by `ingest` has each passage's source: served next to the document (reference
  // clients read only `document` and `score`, so the extra field is invisible to them).
  const sources = IngestedSources.open(index.dir, index.size);
  app.addHook('onClose', async () => sources?.close());
  const cache = options.cache;
  const counters = { requests: 0, queries: 0 };
  app.get('/stats', async () => ({
    requests: counters.requests,
    queries: counters.queries,
    cache: cache?.stats() ?? null,
  }));

  app.post('/retrieve', async (request, reply) => {
    const body = validate(request.body, limits);
    counters.requests++;
    counters.queries += body.queries.length;
    const ranked =
      cache === undefined
        ? await index.search(body.queries, body.topk, method)
        : await cache.search(body.queries, body.topk, method, method === 'bm25', (batch) =>
            index.search(batch, body.topk, method),
          );
    // Documents are stored as canonical {"id","contents"} JSON lines, spliced in without re-encoding.
    const lists = ranked.map((hits) => {
      const items = hits.map((hit) => {
        const document = index.docs.rawJson(hit.index);
        const source = sources === undefined ? '' : `,"source":${sources.rawSource(hit.index)}`;
        if (body.returnScores)
          return `{"document":${document},"score":${JSON.stringify(hit.score)}${source}}`;
        return source === '' ? document : `${document.slice(0, -1)}${source}}`; // inside the document object
      });
      return `[${items.join(',')}]`;
    });
    return reply.type('application/json; charset=utf-8').send(`{"result":[${lists.join(',')}]}`);
  });
  return app;
}

/** Starts a server; resolves with its URL and a `close` function. */
export async function startServer(
  options: ServerOptions & { host?: string; port?: number },
): Promise<{ url: string; app: FastifyInstance; close: () => Promise<void> }> {
  const app = createServer(options);
  const address = await app.listen({
    host: options.host ?? SERVER_DEFAULTS.host,
    port: options.port ?? SERVER_DEFAULTS.port,
  });
  return { url: address, app, close: () => app.close() };
}
