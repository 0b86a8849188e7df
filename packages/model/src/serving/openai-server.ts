// An OpenAI-compatible `/v1/completions` endpoint over any `Generator`, so a local engine can
// join an inference pool (`sr1-model serve` wires the engine in here) and the client in
// openai-generator.ts is tested against the same protocol it speaks. Requests that wait while
// the generator is busy are batched into its next call; each is validated before it joins a
// batch, so one bad request is answered 400 alone and never fails the others.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GeneratorContractError, InvalidInputError } from '@sr1/core';
import type { GenerationRequest, GenerationResult, Generator, Tokenizer } from '@sr1/spec';

export interface CompletionsServerOptions {
  generator: Generator;
  /** Decodes token strings for `logprobs.tokens` and encodes text prompts. */
  tokenizer: Tokenizer;
  /** The model id reported by `/v1/models` and in responses. */
  model: string;
  /** Most sequences per generator call. */
  maxBatchSize?: number;
  /** Largest request body accepted, in bytes; a larger one gets 413. */
  maxBodyBytes?: number;
  /** Token ids must be below this (the model's vocabulary size); a prompt with another id gets 400. */
  vocabSize?: number;
  /** Most positions one sequence may hold; a prompt that leaves no room for a new token gets 400. */
  contextLength?: number;
}

export interface CompletionsServer {
  /** `http://host:port` */
  readonly url: string;
  readonly server: Server;
  /**
   * Requests answered, generator calls made, sequences waiting and in the generator now, requests
   * whose client left before the answer, and tokens the generator returned.
   */
  stats(): {
    requests: number;
    generateCalls: number;
    pending: number;
    running: number;
    cancelled: number;
    generatedTokens: number;
  };
  close(): Promise<void>;
}

/** Sampling settings that must agree for sequences to share a generator call. */
interface Sampling {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
}

interface Pending {
  prompt: number[];
  sampling: Sampling;
  seed: number | undefined;
  /** Aborted when the request's client disconnects. */
  signal: AbortSignal;
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
}

/** An error answered as OpenAI does: `{ error: { message, type, param, code } }` with a status. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly type = status >= 500 ? 'server_error' : 'invalid_request_error',
  ) {
    super(message);
  }
}

/** 400 for a field of the request body. */
class BadRequest extends HttpError {
  constructor(message: string, param: string | null = null) {
    super(400, message, param);
  }
}

/** The client went away; nothing is sent. */
class ClientGone extends Error {}

const DEFAULTS = {
  maxBatchSize: 64, // large enough to keep a batched engine busy, small enough to bound memory
  maxBodyBytes: 16 * 1024 * 1024, // a 32k-token prompt as JSON ids is well under this
  drainBytes: 64 * 1024 * 1024, // read (and drop) this much of a rejected body so the client sees the answer
  maxTokens: 16, // OpenAI's default max_tokens for completions
};

function numberField(
  body: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max = Infinity,
): number {
  const value = body[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new BadRequest(
      `'${name}' must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`,
      name,
    );
  }
  return value;
}

/** The prompts of a request: string | string[] | number[] | number[][], as ids. */
function promptsOf(prompt: unknown, tokenizer: Tokenizer): number[][] {
  const isIds = (value: unknown): value is number[] =>
    Array.isArray(value) && value.every((id) => typeof id === 'number' && Number.isInteger(id) && id >= 0);
  let prompts: number[][];
  if (typeof prompt === 'string') prompts = [tokenizer.encode(prompt)];
  else if (isIds(prompt) && prompt.length > 0) prompts = [prompt];
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((p) => typeof p === 'string')) {
    prompts = (prompt as string[]).map((p) => tokenizer.encode(p));
  } else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every(isIds))
    prompts = prompt as number[][];
  else
    throw new BadRequest(
      "'prompt' must be a string, an array of strings, an array of non-negative integer token ids, or an array of those",
      'prompt',
    );
  if (prompts.some((ids) => ids.length === 0)) throw new BadRequest("'prompt' must not be empty", 'prompt');
  return prompts;
}

/** What the model can take: ids inside its vocabulary, and room for at least one new token. */
function checkPrompts(
  prompts: readonly number[][],
  limits: { vocabSize?: number; contextLength?: number },
): void {
  prompts.forEach((ids, i) => {
    if (limits.vocabSize !== undefined) {
      const position = ids.findIndex((id) => id >= limits.vocabSize!);
      if (position >= 0) {
        throw new BadRequest(
          `'prompt[${i}][${position}]': token id ${ids[position]} is outside the vocabulary [0, ${limits.vocabSize})`,
          'prompt',
        );
      }
    }
    if (limits.contextLength !== undefined && ids.length >= limits.contextLength) {
      throw new BadRequest(
        `'prompt[${i}]' has ${ids.length} tokens; the model's context length ${limits.contextLength} leaves no room for a completion`,
        'prompt',
      );
    }
  });
}

function samplingOf(body: Record<string, unknown>): Sampling {
  const stop = body.stop ?? [];
  const stops = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string')) {
    throw new BadRequest("'stop' must be a string or an array of strings", 'stop');
  }
  return {
    maxNewTokens: Math.floor(numberField(body, 'max_tokens', DEFAULTS.maxTokens, 1)),
    temperature: numberField(body, 'temperature', 1, 0),
    topP: numberField(body, 'top_p', 1, Number.MIN_VALUE, 1),
    stop: stops as string[],
  };
}

/** The stop string that occurs first in `text` (ties: the longer), whatever its place in `stops`. */
function earliestStop(text: string, stops: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestIndex = Number.POSITIVE_INFINITY;
  for (const stop of stops) {
    const index = stop.length === 0 ? -1 : text.indexOf(stop);
    if (index < 0) continue;
    if (index < bestIndex || (index === bestIndex && stop.length > (best?.length ?? 0))) {
      best = stop;
      bestIndex = index;
    }
  }
  return best;
}

function choiceOf(
  result: GenerationResult,
  index: number,
  tokenizer: Tokenizer,
  stop: readonly string[],
  includeStop: boolean,
) {
  const tokens = result.tokenIds.map((id) => tokenizer.decode([id]));
  const offsets: number[] = [];
  let offset = 0;
  for (const token of tokens) {
    offsets.push(offset);
    offset += token.length;
  }
  const matched = result.finishReason === 'stop' ? earliestStop(result.text, stop) : undefined;
  // OpenAI leaves the matched stop string out of the text unless asked (vLLM's include_stop_str_in_output).
  const text =
    matched !== undefined && !includeStop ? result.text.slice(0, result.text.indexOf(matched)) : result.text;
  const eos = result.finishReason === 'eos' ? result.tokenIds[result.tokenIds.length - 1] : undefined;
  return {
    index,
    text,
    token_ids: result.tokenIds,
    logprobs: { tokens, token_logprobs: result.logProbs, text_offset: offsets, top_logprobs: null },
    finish_reason: result.finishReason === 'length' ? 'length' : 'stop',
    stop_reason: matched ?? eos ?? null,
  };
}

function send(res: ServerResponse, status: number, payload: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function sendError(res: ServerResponse, error: HttpError): void {
  send(res, error.status, {
    error: { message: error.message, type: error.type, param: error.param, code: error.code },
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body exceeds the limit of ${limit} bytes`, null, 'body_too_large');
}

/**
 * Reads a body of at most `limit` bytes. A larger one rejects with 413 at once (by its
 * content-length, or as it streams in); the rest of it is read and dropped, up to `drainBytes`,
 * so the client gets the answer instead of a reset connection.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const overflow = () => {
      req.removeAllListeners('data');
      req.removeAllListeners('end');
      let dropped = 0;
      req.on('data', (chunk: Buffer) => {
        dropped += chunk.length;
        if (dropped > DEFAULTS.drainBytes) req.socket.destroy();
      });
      reject(tooLarge(limit));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      overflow();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        overflow();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** JSON media types: `application/json`, `application/*+json`, with parameters. */
function isJsonType(contentType: string): boolean {
  return /^application\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType.trim());
}

/**
 * Starts an OpenAI-compatible completions server over `generator`:
 * `POST /v1/completions` (prompt as text or token ids, single or batched; `max_tokens`,
 * `temperature`, `top_p`, `stop`, `seed`, `include_stop_str_in_output`; `logprobs` always
 * returned, with `token_ids` for token-exact clients), `GET /v1/models`, `GET /health`.
 * Not supported: `stream`, `n` > 1, `echo`, `best_of`, top-k log-probs.
 * Sequences batched together share one generator call and the first one's seed, so a seed makes
 * a response reproducible only when it was generated alone.
 *
 * Errors are OpenAI's `{ error: { message, type, param, code } }`: 400 for a bad field (checked
 * per request before it joins a batch: prompt ids against `vocabSize`, prompt length against
 * `contextLength`), 404 `model_not_found` for another `model`, 413 for a body over
 * `maxBodyBytes`, 415 for a body that is not JSON. When a batched generator call fails, each of
 * its sequences is retried alone, so only the one at fault fails. A client that disconnects has
 * its sequence cancelled: dropped from the queue, or stopped in the generator through
 * `sequenceSignals` (and `signal`, once every sequence of the call is cancelled).
 */
export async function startCompletionsServer(
  options: CompletionsServerOptions,
  listen: { port?: number; host?: string } = {},
): Promise<CompletionsServer> {
  const { generator, tokenizer, model } = options;
  const maxBatchSize = options.maxBatchSize ?? DEFAULTS.maxBatchSize;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const limits = {
    ...(options.vocabSize !== undefined ? { vocabSize: options.vocabSize } : {}),
    ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
  };
  const pending: Pending[] = [];
  let draining = false;
  let running = 0;
  let requests = 0;
  let generateCalls = 0;
  let cancelled = 0;
  let generatedTokens = 0;

  /** One generator call over `batch`; a failed call of several sequences is retried one by one. */
  const runBatch = async (batch: Pending[]): Promise<void> => {
    const live = batch.filter((item) => {
      if (item.signal.aborted) item.reject(new ClientGone());
      return !item.signal.aborted;
    });
    if (live.length === 0) return;
    const sampling = live[0]!.sampling;
    const seed = live[0]!.seed;
    const controller = new AbortController();
    const onCancel = () => {
      if (live.every((item) => item.signal.aborted)) controller.abort();
    };
    for (const item of live) item.signal.addEventListener('abort', onCancel);
    const request: GenerationRequest = {
      prompts: live.map((item) => item.prompt),
      keys: live.map((_, i) => `request-${generateCalls}-${i}`),
      maxNewTokens: sampling.maxNewTokens,
      stop: sampling.stop,
      temperature: sampling.temperature,
      topP: sampling.topP,
      ...(seed !== undefined ? { seed } : {}),
      signal: controller.signal,
      sequenceSignals: live.map((item) => item.signal),
    };
    generateCalls += 1;
    running = live.length;
    let results: GenerationResult[];
    try {
      results = await generator.generate(request);
    } catch (error) {
      running = 0;
      if (live.length > 1 && !controller.signal.aborted) {
        for (const item of live) await runBatch([item]);
        return;
      }
      for (const item of live) item.reject(error);
      return;
    } finally {
      running = 0;
      for (const item of live) item.signal.removeEventListener('abort', onCancel);
    }
    live.forEach((item, i) => {
      const result = results[i];
      if (result === undefined) {
        item.reject(
          new GeneratorContractError(
            `the generator returned ${results.length} results for ${live.length} prompts`,
          ),
        );
        return;
      }
      generatedTokens += result.tokenIds.length;
      item.resolve(result);
    });
  };

  const drain = async (): Promise<void> => {
    if (draining || pending.length === 0) return;
    draining = true;
    const key = JSON.stringify(pending[0]!.sampling);
    const batch: Pending[] = [];
    for (let i = 0; i < pending.length && batch.length < maxBatchSize; ) {
      if (JSON.stringify(pending[i]!.sampling) === key) batch.push(...pending.splice(i, 1));
      else i++;
    }
    try {
      await runBatch(batch);
    } finally {
      draining = false;
      void drain();
    }
  };

  /** Queues every prompt of one request before draining, so they share a generator call. */
  const enqueue = (
    prompts: number[][],
    sampling: Sampling,
    seed: number | undefined,
    signal: AbortSignal,
  ): Promise<GenerationResult[]> => {
    const items: Pending[] = [];
    const results = prompts.map(
      (prompt, i) =>
        new Promise<GenerationResult>((resolve, reject) => {
          items.push({
            prompt,
            sampling,
            seed: seed === undefined ? undefined : seed + i,
            signal,
            resolve,
            reject,
          });
        }),
    );
    pending.push(...items);
    // A client that leaves while its prompts wait takes them out of the queue.
    signal.addEventListener(
      'abort',
      () => {
        for (const item of items) {
          const at = pending.indexOf(item);
          if (at >= 0) {
            pending.splice(at, 1);
            item.reject(new ClientGone());
          }
        }
      },
      { once: true },
    );
    void drain();
    return Promise.all(results);
  };

  const complete = async (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => {
    const contentType = req.headers['content-type'];
    if (contentType !== undefined && !isJsonType(contentType)) {
      throw new HttpError(
        415,
        `the body must be JSON sent as 'content-type: application/json', got '${contentType}'`,
        null,
        'unsupported_media_type',
      );
    }
    const raw = await readBody(req, maxBodyBytes);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new BadRequest('the body is not JSON');
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body))
      throw new BadRequest('the body must be a JSON object');
    if (body.model !== undefined && body.model !== model) {
      if (typeof body.model !== 'string') throw new BadRequest("'model' must be a string", 'model');
      throw new HttpError(
        404,
        `The model '${body.model}' does not exist; this server serves '${model}'`,
        'model',
        'model_not_found',
      );
    }
    if (body.stream === true) throw new BadRequest("'stream' is not supported", 'stream');
    if (body.n !== undefined && body.n !== 1) throw new BadRequest("only 'n' = 1 is supported", 'n');
    const prompts = promptsOf(body.prompt, tokenizer);
    checkPrompts(prompts, limits);
    const sampling = samplingOf(body);
    const seed =
      body.seed === undefined || body.seed === null ? undefined : numberField(body, 'seed', 0, -Infinity);
    const includeStop = body.include_stop_str_in_output === true;
    const results = await enqueue(prompts, sampling, seed, signal);
    if (signal.aborted) throw new ClientGone();
    requests += 1;
    const promptTokens = prompts.reduce((sum, p) => sum + p.length, 0);
    const completionTokens = results.reduce((sum, r) => sum + r.tokenIds.length, 0);
    send(res, 200, {
      id: `cmpl-${requests}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: results.map((result, i) => choiceOf(result, i, tokenizer, sampling.stop, includeStop)),
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'sr1' }] });
    }
    if (path !== '/v1/completions')
      return sendError(res, new HttpError(404, `no route ${path}`, null, null, 'not_found'));
    if (req.method !== 'POST') return sendError(res, new HttpError(405, 'use POST'));
    // The client leaving before its answer cancels its work.
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        cancelled += 1;
        controller.abort();
      }
    });
    try {
      await complete(req, res, controller.signal);
    } catch (error) {
      if (error instanceof ClientGone || controller.signal.aborted) return;
      if (error instanceof HttpError) return sendError(res, error);
      // The engine's own input checks (e.g. a prompt it cannot take) are the client's fault too.
      if (error instanceof InvalidInputError) {
        return sendError(res, new BadRequest(error.message, error.field ?? null));
      }
      sendError(res, new HttpError(500, (error as Error)?.message ?? String(error)));
    }
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    server,
    stats: () => ({
      requests,
      generateCalls,
      pending: pending.length,
      running,
      cancelled,
      generatedTokens,
    }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
