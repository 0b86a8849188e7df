// A Generator over OpenAI-compatible `/v1/completions` servers (vLLM, llama.cpp server, Ollama,
// `sr1-model serve`), so rollouts and evaluation can run on a pool of inference servers. One
// HTTP request per sequence, spread over the pool with a bounded number in flight per server.
//
// Token-exactness needs the sampled token ids back. Accepted, in order of preference:
// `choices[i].token_ids` (vLLM `return_token_ids`, sr1-model serve), `choices[i].tokens` as
// numbers, and `logprobs.tokens` as `"token_id:N"` strings (vLLM `return_tokens_as_token_ids`).
// A server that returns only text gets its text re-encoded with the tokenizer; the result is then
// marked `tokenExact: false` and its log-probs are NaN.

import type {
  GenerationFinishReason,
  GenerationRequest,
  GenerationResult,
  Generator,
  Tokenizer,
} from '@sr1/spec';
import { InferenceServerError, ServingInputError } from '../errors.js';

export interface OpenAICompletionsGeneratorOptions {
  /** Server base URLs, e.g. `http://10.0.0.5:8000` or `http://host:8000/v1`. */
  baseUrls: readonly string[];
  /**
   * The `model` field of each request. Absent: not sent, and a server with one model
   * (`sr1-model serve`, vLLM, llama.cpp) serves that one; a name the server does not serve is
   * answered 404 `model_not_found`, as the OpenAI API does.
   */
  model?: string;
  /** The policy's tokenizer: decodes ids the server did not decode, re-encodes text-only output. */
  tokenizer: Tokenizer;
  /** Requests in flight per server. */
  concurrency?: number;
  /** Send prompts as token ids (exact; vLLM, sr1-model serve) or as decoded text (servers that need it). */
  promptFormat?: 'token-ids' | 'text';
  /** Sent as `Authorization: Bearer …` when set. */
  apiKey?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  /** Further attempts of a failed request, each on the next server of the pool. */
  retries?: number;
  /** Merged into every request body (server-specific sampling options). */
  extraBody?: Record<string, unknown>;
  /** Injected for tests and custom transports. */
  fetch?: typeof fetch;
}

const DEFAULTS = {
  concurrency: 4, // enough to keep a continuous-batching server busy without queueing a whole batch on one
  promptFormat: 'token-ids' as const, // the only format that is exact
  timeoutMs: 600_000, // a 500-token turn on a loaded CPU server can take minutes
  retries: 1, // one more try on the next server covers a restarted server
};

/** The part of a completions response this client reads. */
export interface CompletionChoice {
  text?: unknown;
  token_ids?: unknown;
  tokens?: unknown;
  logprobs?: { tokens?: unknown; token_logprobs?: unknown } | null;
  finish_reason?: unknown;
  stop_reason?: unknown;
  stopping_word?: unknown;
}

function completionsUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') ? `${trimmed}/completions` : `${trimmed}/v1/completions`;
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'number' && Number.isInteger(item));
}

/** Token ids from whichever field the server filled, or null. */
function sampledIds(choice: CompletionChoice): number[] | null {
  if (isNumberArray(choice.token_ids)) return choice.token_ids;
  if (isNumberArray(choice.tokens)) return choice.tokens;
  const tokens = choice.logprobs?.tokens;
  if (
    Array.isArray(tokens) &&
    tokens.length > 0 &&
    tokens.every((t) => typeof t === 'string' && /^token_id:\d+$/.test(t))
  ) {
    return tokens.map((t) => Number((t as string).slice('token_id:'.length)));
  }
  return null;
}

/**
 * Parses one completions choice into a `GenerationResult` (exported for servers' tests).
 * @param stop - the stop strings the request asked for
 */
export function parseCompletionChoice(
  choice: CompletionChoice,
  tokenizer: Tokenizer,
  stop: readonly string[],
  url = 'response',
): GenerationResult {
  if (choice === null || typeof choice !== 'object')
    throw new InferenceServerError(url, 'a choice is not an object');
  let text = typeof choice.text === 'string' ? choice.text : null;
  let tokenIds = sampledIds(choice);
  const rawLogProbs = choice.logprobs?.token_logprobs;
  let logProbs = Array.isArray(rawLogProbs)
    ? rawLogProbs.map((v) => (typeof v === 'number' ? v : Number.NaN))
    : null;
  let tokenExact = tokenIds !== null;
  if (tokenIds === null && text === null)
    throw new InferenceServerError(url, 'a choice has neither text nor token ids');
  if (text === null) text = tokenizer.decode(tokenIds!);

  // A server that drops the matched stop string (the OpenAI default) loses the action's closing tag:
  // with ids, decode them (they include the stop token); without, append the reported stop string.
  const eosLast =
    tokenIds !== null &&
    tokenIds.length > 0 &&
    tokenizer.eosTokenIds.includes(tokenIds[tokenIds.length - 1]!);
  const matched = typeof choice.stop_reason === 'string' ? choice.stop_reason : choice.stopping_word;
  if (choice.finish_reason === 'stop' && !eosLast && !stop.some((s) => text!.includes(s))) {
    if (tokenIds !== null) {
      const decoded = tokenizer.decode(tokenIds);
      if (stop.some((s) => decoded.includes(s))) text = decoded;
    } else if (typeof matched === 'string' && stop.includes(matched)) {
      text += matched;
    }
  }
  if (tokenIds === null) {
    tokenIds = tokenizer.encode(text);
    tokenExact = false;
  }
  // Log-probs of re-encoded tokens would belong to other tokens: NaN says so.
  if (!tokenExact || logProbs === null || logProbs.length !== tokenIds.length)
    logProbs = tokenIds.map(() => Number.NaN);

  let finishReason: GenerationFinishReason = choice.finish_reason === 'length' ? 'length' : 'stop';
  if (tokenIds.length > 0 && tokenizer.eosTokenIds.includes(tokenIds[tokenIds.length - 1]!))
    finishReason = 'eos';
  return tokenExact
    ? { tokenIds, text, logProbs, finishReason }
    : { tokenIds, text, logProbs, finishReason, tokenExact };
}

/** A `Generator` over a pool of OpenAI-compatible completions servers. */
export class OpenAICompletionsGenerator implements Generator {
  private readonly options: Required<
    Omit<OpenAICompletionsGeneratorOptions, 'apiKey' | 'extraBody' | 'fetch' | 'model'>
  > &
    Pick<OpenAICompletionsGeneratorOptions, 'apiKey' | 'extraBody' | 'model'>;
  private readonly fetchFn: typeof fetch;
  /** Requests sent per base URL (for monitoring the pool). */
  readonly requestCounts: number[];

  constructor(options: OpenAICompletionsGeneratorOptions) {
    if (!Array.isArray(options.baseUrls) || options.baseUrls.length === 0) {
      throw new ServingInputError('baseUrls', 'expected at least one server URL');
    }
    options.baseUrls.forEach((url, i) => {
      if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
        throw new ServingInputError(`baseUrls[${i}]`, `expected an http(s) URL, got ${String(url)}`);
      }
    });
    const concurrency = options.concurrency ?? DEFAULTS.concurrency;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new ServingInputError('concurrency', `expected a positive integer, got ${concurrency}`);
    }
    const retries = options.retries ?? DEFAULTS.retries;
    if (!Number.isInteger(retries) || retries < 0)
      throw new ServingInputError('retries', `expected an integer >= 0, got ${retries}`);
    this.options = {
      baseUrls: [...options.baseUrls],
      model: options.model,
      tokenizer: options.tokenizer,
      concurrency,
      promptFormat: options.promptFormat ?? DEFAULTS.promptFormat,
      timeoutMs: options.timeoutMs ?? DEFAULTS.timeoutMs,
      retries,
      apiKey: options.apiKey,
      extraBody: options.extraBody,
    };
    this.fetchFn = options.fetch ?? fetch;
    this.requestCounts = options.baseUrls.map(() => 0);
  }

  async generate(request: GenerationRequest): Promise<GenerationResult[]> {
    const results: GenerationResult[] = new Array(request.prompts.length);
    let next = 0;
    // One worker per slot of each server; each takes the next waiting sequence.
    const worker = async (server: number) => {
      while (next < request.prompts.length) {
        const sequence = next++;
        results[sequence] = await this.complete(request, sequence, server);
      }
    };
    const workers: Promise<void>[] = [];
    for (let slot = 0; slot < this.options.concurrency; slot++) {
      for (let server = 0; server < this.options.baseUrls.length; server++) workers.push(worker(server));
    }
    await Promise.all(workers);
    return results;
  }

  private body(request: GenerationRequest, sequence: number): Record<string, unknown> {
    const prompt = request.prompts[sequence]!;
    return {
      ...(this.options.model !== undefined ? { model: this.options.model } : {}),
      prompt: this.options.promptFormat === 'token-ids' ? [...prompt] : this.options.tokenizer.decode(prompt),
      max_tokens: request.maxNewTokens,
      temperature: request.temperature,
      top_p: request.topP,
      stop: [...request.stop],
      logprobs: 1,
      // Each sequence its own seed: GRPO sends the same prompt several times and wants different samples.
      ...(request.seed !== undefined ? { seed: request.seed + sequence } : {}),
      // Server extensions, ignored where unknown: ids back (vLLM, llama.cpp) and the stop string kept
      // in the text (vLLM).
      return_tokens_as_token_ids: true,
      return_token_ids: true,
      return_tokens: true,
      include_stop_str_in_output: true,
      ...this.options.extraBody,
    };
  }

  private async complete(
    request: GenerationRequest,
    sequence: number,
    firstServer: number,
  ): Promise<GenerationResult> {
    const body = JSON.stringify(this.body(request, sequence));
    let lastError: unknown;
    for (let attempt = 0; attempt <= this.options.retries; attempt++) {
      request.signal?.throwIfAborted();
      const server = (firstServer + attempt) % this.options.baseUrls.length;
      const url = completionsUrl(this.options.baseUrls[server]!);
      this.requestCounts[server]! += 1;
      try {
        return await this.post(url, body, request);
      } catch (error) {
        if (request.signal?.aborted) throw error;
        // A 4xx is the request's fault: another server would refuse it too.
        if (error instanceof InferenceServerError && error.status !== undefined && error.status < 500)
          throw error;
        lastError = error;
      }
    }
    throw lastError;
  }

  private async post(url: string, body: string, request: GenerationRequest): Promise<GenerationResult> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = request.signal !== undefined ? AbortSignal.any([request.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await this.fetchFn(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.options.apiKey !== undefined ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body,
        signal,
      });
    } catch (error) {
      throw new InferenceServerError(url, `request failed: ${(error as Error).message}`, { cause: error });
    }
    const raw = await response.text();
    if (!response.ok) {
      throw new InferenceServerError(url, `HTTP ${response.status}: ${raw.slice(0, 500)}`, {
        status: response.status,
      });
    }
    let parsed: { choices?: unknown };
    try {
      parsed = JSON.parse(raw);
    } catch (error) {
      throw new InferenceServerError(url, `the response is not JSON: ${raw.slice(0, 200)}`, { cause: error });
    }
    const choice = Array.isArray(parsed?.choices) ? parsed.choices[0] : undefined;
    if (choice === undefined) throw new InferenceServerError(url, 'the response has no choices');
    return parseCompletionChoice(choice as CompletionChoice, this.options.tokenizer, request.stop, url);
  }
}
