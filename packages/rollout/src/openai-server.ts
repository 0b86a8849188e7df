// An OpenAI-compatible `/v1/completions` endpoint over any `Generator`, so a local engine can
// join an inference pool (`sr1-model serve` wires the engine in here) and the client in
// openai-generator.ts is tested against the same protocol it speaks. Requests that wait while
// the generator is busy are batched into its next call.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GenerationRequest, GenerationResult, Generator, Tokenizer } from './types.js';

export interface CompletionsServerOptions {
  generator: Generator;
  /** Decodes token strings for `logprobs.tokens` and encodes text prompts. */
  tokenizer: Tokenizer;
  /** The model id reported by `/v1/models` and in responses. */
  model: string;
  /** Most sequences per generator call. */
  maxBatchSize?: number;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
}

export interface CompletionsServer {
  /** `http://host:port` */
  readonly url: string;
  readonly server: Server;
  /** Requests answered, generator calls made, and sequences waiting now. */
  stats(): { requests: number; generateCalls: number; pending: number };
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
  resolve: (result: GenerationResult) => void;
  reject: (error: unknown) => void;
}

class BadRequest extends Error {}

const DEFAULTS = {
  maxBatchSize: 64, // large enough to keep a batched engine busy, small enough to bound memory
  maxBodyBytes: 16 * 1024 * 1024, // a 32k-token prompt as JSON ids is well under this
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
    throw new BadRequest(`'${name}' must be a number in [${min}, ${max}], got ${JSON.stringify(value)}`);
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
      "'prompt' must be a string, an array of strings, an array of token ids, or an array of those",
    );
  if (prompts.some((ids) => ids.length === 0)) throw new BadRequest("'prompt' must not be empty");
  return prompts;
}

function samplingOf(body: Record<string, unknown>): Sampling {
  const stop = body.stop ?? [];
  const stops = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(stops) || !stops.every((s) => typeof s === 'string')) {
    throw new BadRequest("'stop' must be a string or an array of strings");
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
  const body = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BadRequest(`the request body exceeds ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts an OpenAI-compatible completions server over `generator`:
 * `POST /v1/completions` (prompt as text or token ids, single or batched; `max_tokens`,
 * `temperature`, `top_p`, `stop`, `seed`, `include_stop_str_in_output`; `logprobs` always
 * returned, with `token_ids` for token-exact clients), `GET /v1/models`, `GET /health`.
 * Not supported: `stream`, `n` > 1, `echo`, `best_of`, top-k log-probs.
 * Sequences batched together share one generator call and the first one's seed, so a seed makes
 * a response reproducible only when it was generated alone.
 */
export async function startCompletionsServer(
  options: CompletionsServerOptions,
  listen: { port?: number; host?: string } = {},
): Promise<CompletionsServer> {
  const { generator, tokenizer, model } = options;
  const maxBatchSize = options.maxBatchSize ?? DEFAULTS.maxBatchSize;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
  const pending: Pending[] = [];
  let running = false;
  let requests = 0;
  let generateCalls = 0;

  const drain = async (): Promise<void> => {
    if (running || pending.length === 0) return;
    running = true;
    const key = JSON.stringify(pending[0]!.sampling);
    const batch: Pending[] = [];
    for (let i = 0; i < pending.length && batch.length < maxBatchSize; ) {
      if (JSON.stringify(pending[i]!.sampling) === key) batch.push(...pending.splice(i, 1));
      else i++;
    }
    const sampling = batch[0]!.sampling;
    const seed = batch[0]!.seed;
    const request: GenerationRequest = {
      prompts: batch.map((item) => item.prompt),
      keys: batch.map((_, i) => `request-${generateCalls}-${i}`),
      maxNewTokens: sampling.maxNewTokens,
      stop: sampling.stop,
      temperature: sampling.temperature,
      topP: sampling.topP,
      ...(seed !== undefined ? { seed } : {}),
    };
    generateCalls += 1;
    try {
      const results = await generator.generate(request);
      batch.forEach((item, i) => {
        const result = results[i];
        if (result === undefined)
          item.reject(
            new Error(`the generator returned ${results.length} results for ${batch.length} prompts`),
          );
        else item.resolve(result);
      });
    } catch (error) {
      for (const item of batch) item.reject(error);
    } finally {
      running = false;
      void drain();
    }
  };

  /** Queues every prompt of one request before draining, so they share a generator call. */
  const enqueue = (
    prompts: number[][],
    sampling: Sampling,
    seed: number | undefined,
  ): Promise<GenerationResult[]> => {
    const results = prompts.map(
      (prompt, i) =>
        new Promise<GenerationResult>((resolve, reject) => {
          pending.push({
            prompt,
            sampling,
            seed: seed === undefined ? undefined : seed + i,
            resolve,
            reject,
          });
        }),
    );
    void drain();
    return Promise.all(results);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/health') return send(res, 200, { status: 'ok' });
    if (req.method === 'GET' && path === '/v1/models') {
      return send(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'sr1' }] });
    }
    if (path !== '/v1/completions')
      return send(res, 404, { error: { message: `no route ${path}`, type: 'not_found' } });
    if (req.method !== 'POST')
      return send(res, 405, { error: { message: 'use POST', type: 'invalid_request_error' } });
    try {
      const raw = await readBody(req, maxBodyBytes);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw);
      } catch {
        throw new BadRequest('the body is not JSON');
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body))
        throw new BadRequest('the body must be a JSON object');
      if (body.stream === true) throw new BadRequest("'stream' is not supported");
      if (body.n !== undefined && body.n !== 1) throw new BadRequest("only 'n' = 1 is supported");
      const prompts = promptsOf(body.prompt, tokenizer);
      const sampling = samplingOf(body);
      const seed =
        body.seed === undefined || body.seed === null ? undefined : numberField(body, 'seed', 0, -Infinity);
      const includeStop = body.include_stop_str_in_output === true;
      const results = await enqueue(prompts, sampling, seed);
      requests += 1;
      send(res, 200, {
        id: `cmpl-${requests}`,
        object: 'text_completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: results.map((result, i) => choiceOf(result, i, tokenizer, sampling.stop, includeStop)),
        usage: {
          prompt_tokens: prompts.reduce((sum, p) => sum + p.length, 0),
          completion_tokens: results.reduce((sum, r) => sum + r.tokenIds.length, 0),
          total_tokens:
            prompts.reduce((sum, p) => sum + p.length, 0) +
            results.reduce((sum, r) => sum + r.tokenIds.length, 0),
        },
      });
    } catch (error) {
      if (error instanceof BadRequest)
        return send(res, 400, { error: { message: error.message, type: 'invalid_request_error' } });
      send(res, 500, {
        error: { message: (error as Error)?.message ?? String(error), type: 'server_error' },
      });
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
    stats: () => ({ requests, generateCalls, pending: pending.length }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
