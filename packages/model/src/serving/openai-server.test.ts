import { request as httpRequest } from 'node:http';
import {
  encodePrompt,
  type GenerationRequest,
  type GenerationResult,
  type Generator,
  INVALID_ACTION_MESSAGE,
  informationBlock,
  runRollout,
} from '@sr1/rollout';
import { InMemoryRetriever, PieceTokenizer, RuleBasedGenerator, scriptedLogProb } from '@sr1/rollout/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { OpenAICompletionsGenerator } from './openai-generator.js';
import {
  type CompletionsServer,
  type CompletionsServerOptions,
  startCompletionsServer,
} from './openai-server.js';

const tokenizer = new PieceTokenizer();

/** Searches first, answers once information is in the context. */
function searchThenAnswer() {
  return new RuleBasedGenerator({
    tokenizer,
    respond: (prompt) =>
      prompt.includes('<information>Doc 1')
        ? '<think>found</think><answer> Rockstar North </answer> after'
        : '<think>look it up</think><search> hot coffee mod </search>\n\nafter',
  });
}

const servers: CompletionsServer[] = [];
async function serve(
  generator: Generator,
  maxBatchSize?: number,
  extra: Partial<CompletionsServerOptions> = {},
): Promise<CompletionsServer> {
  const server = await startCompletionsServer({
    generator,
    tokenizer,
    model: 'tiny',
    ...(maxBatchSize ? { maxBatchSize } : {}),
    ...extra,
  });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** The response fields these tests read. */
interface CompletionsBody {
  choices: {
    index: number;
    text: string;
    token_ids: number[];
    logprobs: { tokens: string[]; token_logprobs: number[] };
    finish_reason: string;
    stop_reason: string | number | null;
  }[];
  usage: Record<string, number>;
  error: { message: string };
}

async function post(
  server: CompletionsServer,
  body: unknown,
): Promise<{ status: number; json: CompletionsBody }> {
  const response = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as CompletionsBody };
}

describe('startCompletionsServer', () => {
  const prompt = encodePrompt('what is the hot coffee mod in san andreas', tokenizer);
  const turn1 = tokenizer.encode('<think>look it up</think><search> hot coffee mod </search>\n\n');

  it('answers the OpenAI completions protocol with token ids, log-probs and the stop string handling of vLLM', async () => {
    const server = await serve(searchThenAnswer());
    const { status, json } = await post(server, {
      model: 'tiny',
      prompt,
      max_tokens: 200,
      stop: ['</search>'],
      logprobs: 1,
    });
    expect(status).toBe(200);
    const choice = json.choices[0]!;
    expect(choice.token_ids).toEqual(turn1);
    expect(choice.logprobs.token_logprobs).toEqual(turn1.map((id, p) => scriptedLogProb(id, p)));
    expect(choice.logprobs.tokens.join('')).toBe(
      '<think>look it up</think><search> hot coffee mod </search>\n\n',
    );
    expect(choice.text).toBe('<think>look it up</think><search> hot coffee mod '); // stop string left out by default
    expect(choice.finish_reason).toBe('stop');
    expect(choice.stop_reason).toBe('</search>');
    expect(json.usage).toEqual({
      prompt_tokens: prompt.length,
      completion_tokens: turn1.length,
      total_tokens: prompt.length + turn1.length,
    });

    const kept = await post(server, {
      prompt: tokenizer.decode(prompt),
      max_tokens: 200,
      stop: '</search>',
      include_stop_str_in_output: true,
    });
    expect(kept.json.choices[0]!.text).toBe('<think>look it up</think><search> hot coffee mod </search>\n\n');
  });

  it('keeps token-exactness when a server leaves the stop string out of the text but returns the ids', async () => {
    const server = await serve(searchThenAnswer());
    const generator = new OpenAICompletionsGenerator({
      baseUrls: [server.url],
      model: 'tiny',
      tokenizer,
      extraBody: { include_stop_str_in_output: false },
    });
    const [result] = await generator.generate({
      prompts: [prompt],
      keys: ['a'],
      maxNewTokens: 200,
      stop: ['</search>'],
      temperature: 1,
      topP: 1,
    });
    expect(result!.tokenIds).toEqual(turn1);
    expect(result!.text).toBe('<think>look it up</think><search> hot coffee mod </search>\n\n');
    expect(result!.tokenExact).toBeUndefined();
  });

  it('cuts the text at the stop string that matches earliest, whatever its place in the list', async () => {
    const ids = tokenizer.encode('<think>a</think><search> b </search>');
    const fixed: Generator = {
      generate: async (request) =>
        request.prompts.map(() => ({
          tokenIds: ids,
          text: tokenizer.decode(ids),
          logProbs: ids.map(() => -0.1),
          finishReason: 'stop' as const,
        })),
    };
    const server = await serve(fixed);
    const { json } = await post(server, { prompt, max_tokens: 50, stop: ['</search>', '</think>'] });
    expect(json.choices[0]!.text).toBe('<think>a');
    expect(json.choices[0]!.stop_reason).toBe('</think>');
  });

  it('reports length and EOS finishes', async () => {
    const server = await serve(searchThenAnswer());
    const short = await post(server, { prompt, max_tokens: 4 });
    expect(short.json.choices[0]!.finish_reason).toBe('length');
    expect(short.json.choices[0]!.token_ids).toEqual(turn1.slice(0, 4));
    const eos = await post(server, { prompt, max_tokens: 500 });
    expect(eos.json.choices[0]!.finish_reason).toBe('stop');
    expect(eos.json.choices[0]!.stop_reason).toBe(tokenizer.eosTokenId);
  });

  it('rejects what it cannot serve with 400 and a message, and serves /v1/models', async () => {
    const server = await serve(searchThenAnswer());
    expect((await post(server, '{not json')).status).toBe(400);
    expect((await post(server, { prompt: [] })).json.error.message).toMatch(/'prompt'/);
    expect((await post(server, { prompt, stream: true })).json.error.message).toMatch(/stream/);
    expect((await post(server, { prompt, temperature: -1 })).json.error.message).toMatch(/'temperature'/);
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0]!.id).toBe('tiny');
    expect((await fetch(`${server.url}/v2/nothing`)).status).toBe(404);
  });

  it('serves batched prompts in one request as one generator call, one choice each', async () => {
    const generator = searchThenAnswer();
    const server = await serve(generator);
    const { json } = await post(server, {
      prompt: [prompt, prompt, prompt],
      max_tokens: 200,
      stop: ['</search>'],
      seed: 3,
    });
    expect(json.choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2]);
    expect(generator.calls.map((call) => call.prompts.length)).toEqual([3]);
    expect(generator.calls[0]!.prompts).toHaveLength(3);
    expect(generator.calls[0]!.seed).toBe(3);
  });

  it('batches requests that wait while the generator is busy', async () => {
    const inner = searchThenAnswer();
    let release: () => void = () => {};
    let calls = 0;
    const gated: Generator & { batchSizes: number[] } = {
      batchSizes: [],
      async generate(request: GenerationRequest): Promise<GenerationResult[]> {
        gated.batchSizes.push(request.prompts.length);
        if (calls++ === 0) await new Promise<void>((resolve) => (release = resolve));
        return inner.generate(request);
      },
    };
    const server = await serve(gated);
    const body = { prompt, max_tokens: 200, stop: ['</search>'] };
    const first = post(server, body);
    while (gated.batchSizes.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = [post(server, body), post(server, body), post(server, body)];
    while (server.stats().pending < 3) await new Promise((resolve) => setImmediate(resolve));
    release();
    const responses = await Promise.all([first, ...rest]);
    expect(responses.map((r) => r.json.choices[0]!.token_ids)).toEqual([turn1, turn1, turn1, turn1]);
    expect(gated.batchSizes).toEqual([1, 3]);
    expect(server.stats()).toMatchObject({ requests: 4, generateCalls: 2, pending: 0, running: 0 });
  });

  it('with OpenAICompletionsGenerator, runs a rollout over HTTP whose masks cover exactly the inserted tokens', async () => {
    const server = await serve(searchThenAnswer());
    const generator = new OpenAICompletionsGenerator({ baseUrls: [server.url], model: 'tiny', tokenizer });
    const prompts = ['what is the hot coffee mod in san andreas', 'who developed gta san andreas'].map(
      (question, i) => ({
        id: `q${i}`,
        promptTokenIds: encodePrompt(question, tokenizer),
      }),
    );
    const trajectories = await runRollout(prompts, {
      generator,
      retriever: new InMemoryRetriever(),
      tokenizer,
      config: { maxObsTokens: 5000 },
    });
    const block = tokenizer.encode(
      informationBlock((await new InMemoryRetriever().search(['hot coffee mod'], 3))[0]!),
    );
    const turn2 = tokenizer.encode('<think>found</think><answer> Rockstar North </answer>');
    for (const trajectory of trajectories) {
      expect(trajectory.responseTokenIds).toEqual([...turn1, ...block, ...turn2]);
      expect(Array.from(trajectory.sampledMask)).toEqual([
        ...turn1.map(() => 1),
        ...block.map(() => 0),
        ...turn2.map(() => 1),
      ]);
      expect(Array.from(trajectory.logProbs)).toEqual([
        ...turn1.map((id, p) => scriptedLogProb(id, p)),
        ...block.map(() => 0),
        ...turn2.map((id, p) => scriptedLogProb(id, p)),
      ]);
      expect(trajectory.answer).toBe('Rockstar North');
      expect(trajectory.tokenExact).toBe(true);
      expect(trajectory.text).not.toContain(INVALID_ACTION_MESSAGE);
    }
  });

  it('validates each request before it joins a batch: a bad one gets 400 naming the field, the rest of its batch 200', async () => {
    const inner = searchThenAnswer();
    let release: () => void = () => {};
    let calls = 0;
    const gated: Generator & { batchSizes: number[] } = {
      batchSizes: [],
      async generate(request: GenerationRequest): Promise<GenerationResult[]> {
        gated.batchSizes.push(request.prompts.length);
        // like a real engine, one bad prompt fails the whole call
        if (request.prompts.some((ids) => ids.some((id) => id >= tokenizer.vocabSize))) {
          throw new Error('token id outside the vocabulary');
        }
        if (calls++ === 0) await new Promise<void>((resolve) => (release = resolve));
        return inner.generate(request);
      },
    };
    const contextLength = prompt.length + 10;
    const server = await serve(gated, undefined, { vocabSize: tokenizer.vocabSize, contextLength });
    const body = { prompt, max_tokens: 200, stop: ['</search>'] };
    const first = post(server, body);
    while (gated.batchSizes.length === 0) await new Promise((resolve) => setImmediate(resolve));
    const good = Array.from({ length: 7 }, () => post(server, body));
    const outOfVocabulary = post(server, { ...body, prompt: [...prompt, tokenizer.vocabSize + 5] });
    const tooLong = post(server, { ...body, prompt: Array.from({ length: contextLength }, () => 5) });
    const negative = post(server, {
      ...body,
      prompt: [
        [1, 2],
        [3, -1],
      ],
    });
    while (server.stats().pending < 7) await new Promise((resolve) => setImmediate(resolve));
    release();
    const responses = await Promise.all([first, ...good]);
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 8 }, () => 200));
    expect(responses.map((r) => r.json.choices[0]!.token_ids)).toEqual(responses.map(() => turn1));
    const bad = await outOfVocabulary;
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({ type: 'invalid_request_error', param: 'prompt' });
    expect(bad.json.error.message).toMatch(/prompt\[0\]\[\d+\].*outside the vocabulary/);
    expect((await tooLong).status).toBe(400);
    expect((await tooLong).json.error.message).toMatch(
      new RegExp(`${contextLength} tokens.*context length ${contextLength}`),
    );
    expect((await negative).status).toBe(400);
    expect(gated.batchSizes).toEqual([1, 7]);
  });

  it('answers a failed batch per request: the others succeed when the generator fails on one prompt', async () => {
    const inner = searchThenAnswer();
    const poison = tokenizer.vocabSize + 1; // a prompt id this server does not check (no vocabSize given)
    const picky: Generator = {
      async generate(request: GenerationRequest): Promise<GenerationResult[]> {
        if (request.prompts.some((ids) => ids.includes(poison))) throw new Error('engine failure');
        return inner.generate(request);
      },
    };
    let release: () => void = () => {};
    let calls = 0;
    const gated: Generator = {
      async generate(request) {
        if (calls++ === 0) await new Promise<void>((resolve) => (release = resolve));
        return picky.generate(request);
      },
    };
    const server = await serve(gated);
    const body = { prompt, max_tokens: 200, stop: ['</search>'] };
    const first = post(server, body);
    while (calls === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = [
      post(server, body),
      post(server, { ...body, prompt: [...prompt, poison] }),
      post(server, body),
    ];
    while (server.stats().pending < 3) await new Promise((resolve) => setImmediate(resolve));
    release();
    const statuses = (await Promise.all([first, ...rest])).map((r) => r.status);
    expect(statuses).toEqual([200, 200, 500, 200]);
  });

  it('answers an oversized body with 413, a non-JSON content type with 415 and an unknown model with 404', async () => {
    const limit = JSON.stringify({ prompt }).length + 200;
    const server = await serve(searchThenAnswer(), undefined, { maxBodyBytes: limit });
    const big = await post(server, { prompt, padding: 'x'.repeat(limit) });
    expect(big.status).toBe(413);
    expect(big.json.error.message).toContain(`${limit} bytes`);
    // without a content-length (chunked), the limit holds as the body streams in
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      request.on('response', (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      for (let i = 0; i < 10; i++) request.write('x'.repeat(limit / 5));
      request.end();
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.type).toBe('invalid_request_error');

    const plain = await fetch(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ prompt }),
    });
    expect(plain.status).toBe(415);
    expect(((await plain.json()) as CompletionsBody).error.message).toMatch(/application\/json/);

    const unknown = await post(server, { model: 'gpt-9', prompt });
    expect(unknown.status).toBe(404);
    expect(unknown.json.error).toMatchObject({ code: 'model_not_found', param: 'model' });
    expect((await post(server, { model: 'tiny', prompt, max_tokens: 2 })).status).toBe(200);
    // a client that names no model gets the one the server serves
    const [result] = await new OpenAICompletionsGenerator({ baseUrls: [server.url], tokenizer }).generate({
      prompts: [prompt],
      keys: ['a'],
      maxNewTokens: 2,
      stop: [],
      temperature: 1,
      topP: 1,
    });
    expect(result!.tokenIds).toEqual(turn1.slice(0, 2));
  });

  it('stops generating for a client that disconnects', async () => {
    const maxTokens = 10_000;
    const seen: { signal?: AbortSignal; produced: number; settled: boolean } = {
      produced: 0,
      settled: false,
    };
    // A generator that makes one token per event-loop turn until its signals say stop.
    const slow: Generator = {
      async generate(request) {
        if (request.signal !== undefined) seen.signal = request.signal;
        try {
          const tokenIds: number[] = [];
          while (tokenIds.length < request.maxNewTokens) {
            if (request.signal?.aborted || request.sequenceSignals?.[0]?.aborted) break;
            tokenIds.push(5);
            seen.produced += 1;
            await new Promise((resolve) => setImmediate(resolve));
          }
          return request.prompts.map(() => ({
            tokenIds,
            text: tokenizer.decode(tokenIds),
            logProbs: tokenIds.map(() => -1),
            finishReason: 'length' as const,
          }));
        } finally {
          seen.settled = true;
        }
      },
    };
    const server = await serve(slow);
    const request = httpRequest(`${server.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    request.on('error', () => {});
    request.end(JSON.stringify({ prompt, max_tokens: maxTokens }));
    while (seen.produced < 10) await new Promise((resolve) => setImmediate(resolve));
    request.destroy();
    while (!seen.settled) await new Promise((resolve) => setImmediate(resolve));
    expect(seen.produced).toBeLessThan(maxTokens);
    expect(server.stats()).toMatchObject({ cancelled: 1, running: 0, pending: 0, requests: 0 });
  });
});
