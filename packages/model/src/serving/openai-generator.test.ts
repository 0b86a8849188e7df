import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodePrompt, type GenerationRequest, informationBlock, runRollout } from '@sr1/rollout';
import { InMemoryRetriever, PieceTokenizer, scriptedLogProb } from '@sr1/rollout/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { InferenceServerError } from '../errors.js';
import { OpenAICompletionsGenerator } from './openai-generator.js';

const tokenizer = new PieceTokenizer();

/** How the test server reports sampled tokens. */
type Style = 'vllm' | 'token-ids' | 'text-only';

interface TestServer {
  url: string;
  requests: Record<string, unknown>[];
  maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A small real HTTP server speaking the OpenAI completions protocol, backed by a deterministic
 * policy over PieceTokenizer: search first, answer once an information block is in the context.
 * Like a real server it samples token by token, stops after the token completing a stop string,
 * at EOS or at max_tokens.
 */
async function startServer(
  style: Style,
  options: { failFirst?: number; failStatus?: number } = {},
): Promise<TestServer> {
  const requests: Record<string, unknown>[] = [];
  let inFlight = 0;
  let failures = options.failFirst ?? 0;
  const state = { maxInFlight: 0 };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk) => {
      raw += chunk;
    });
    req.on('end', () => {
      inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, inFlight);
      const body = JSON.parse(raw) as Record<string, unknown>;
      requests.push(body);
      const reply = (status: number, payload: unknown) => {
        // Answer on a later turn of the event loop so concurrent requests overlap.
        setImmediate(() => {
          inFlight -= 1;
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(payload));
        });
      };
      if (req.url !== '/v1/completions') return reply(404, { error: 'not found' });
      if (failures > 0) {
        failures -= 1;
        return reply(options.failStatus ?? 503, { error: 'overloaded' });
      }
      const prompt = Array.isArray(body.prompt)
        ? tokenizer.decode(body.prompt as number[])
        : String(body.prompt);
      const continuation = prompt.includes('<information>Doc 1')
        ? '<think>found it</think><answer> December 1972 </answer> trailing'
        : '<think>search first</think><search> moon landing </search>\n\nnot sampled';
      const stop = (body.stop as string[]) ?? [];
      const planned = [...tokenizer.encode(continuation), tokenizer.eosTokenId];
      const ids: number[] = [];
      let finish = 'length';
      let matched: string | null = null;
      for (const id of planned) {
        if (ids.length >= (body.max_tokens as number)) break;
        ids.push(id);
        if (id === tokenizer.eosTokenId) {
          finish = 'stop';
          break;
        }
        matched = stop.find((s) => tokenizer.decode(ids).includes(s)) ?? null;
        if (matched !== null) {
          finish = 'stop';
          break;
        }
      }
      let text = tokenizer.decode(ids, { skipSpecialTokens: true });
      const logprobs = ids.map((id, p) => scriptedLogProb(id, p));
      const choice: Record<string, unknown> = { index: 0, finish_reason: finish };
      if (style === 'text-only') {
        // OpenAI's default: the matched stop string is not part of the text.
        if (matched !== null) text = text.slice(0, text.indexOf(matched));
        choice.text = text;
        choice.stop_reason = matched;
        choice.logprobs = { tokens: ids.map((id) => tokenizer.decode([id])), token_logprobs: logprobs };
      } else if (style === 'vllm') {
        choice.text = text;
        choice.logprobs = { tokens: ids.map((id) => `token_id:${id}`), token_logprobs: logprobs };
      } else {
        choice.text = text;
        choice.token_ids = ids;
        choice.logprobs = { tokens: ids.map((id) => tokenizer.decode([id])), token_logprobs: logprobs };
      }
      reply(200, { id: 'cmpl-1', object: 'text_completion', model: body.model, choices: [choice] });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get maxInFlight() {
      return state.maxInFlight;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const servers: TestServer[] = [];
async function serve(
  style: Style,
  options?: { failFirst?: number; failStatus?: number },
): Promise<TestServer> {
  const server = await startServer(style, options);
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

function request(prompts: number[][], overrides: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    prompts,
    keys: prompts.map((_, i) => `k${i}`),
    maxNewTokens: 100,
    stop: ['</search>', '</answer>'],
    temperature: 1,
    topP: 1,
    seed: 7,
    ...overrides,
  };
}

describe('OpenAICompletionsGenerator', () => {
  const prompt = encodePrompt('when was the last time anyone was on the moon', tokenizer);
  const expectedIds = tokenizer.encode('<think>search first</think><search> moon landing </search>\n\n');

  for (const style of ['vllm', 'token-ids'] as const) {
    it(`returns the sampled ids and log-probs exactly (${style} style)`, async () => {
      const server = await serve(style);
      const generator = new OpenAICompletionsGenerator({ baseUrls: [server.url], model: 'tiny', tokenizer });
      const [result] = await generator.generate(request([prompt]));
      // the server sampled the merged `</search>\n\n` token: it stays, as sampled
      expect(result!.tokenIds).toEqual(expectedIds);
      expect(result!.logProbs).toEqual(expectedIds.map((id, p) => scriptedLogProb(id, p)));
      expect(result!.text).toBe('<think>search first</think><search> moon landing </search>\n\n');
      expect(result!.finishReason).toBe('stop');
      expect(result!.tokenExact).toBeUndefined();
      expect(server.requests[0]).toMatchObject({
        model: 'tiny',
        prompt,
        max_tokens: 100,
        temperature: 1,
        top_p: 1,
        stop: ['</search>', '</answer>'],
        logprobs: 1,
        seed: 7,
        return_tokens_as_token_ids: true,
        include_stop_str_in_output: true,
      });
    });
  }

  it('re-encodes text-only output, restores the dropped stop string, and marks it not token-exact', async () => {
    const server = await serve('text-only');
    const generator = new OpenAICompletionsGenerator({
      baseUrls: [`${server.url}/v1/`],
      model: 'tiny',
      tokenizer,
      promptFormat: 'text',
    });
    const [result] = await generator.generate(request([prompt]));
    expect(server.requests[0]!.prompt).toBe(tokenizer.decode(prompt));
    expect(result!.text).toBe('<think>search first</think><search> moon landing </search>');
    expect(result!.tokenIds).toEqual(tokenizer.encode(result!.text));
    expect(result!.tokenExact).toBe(false);
    expect(result!.logProbs.every(Number.isNaN)).toBe(true);
  });

  it('reports EOS and length finishes', async () => {
    const server = await serve('token-ids');
    const generator = new OpenAICompletionsGenerator({ baseUrls: [server.url], model: 'tiny', tokenizer });
    const [short] = await generator.generate(request([prompt], { maxNewTokens: 3 }));
    expect(short!.tokenIds).toEqual(expectedIds.slice(0, 3));
    expect(short!.finishReason).toBe('length');
    const [eos] = await generator.generate(request([prompt], { stop: [] }));
    expect(eos!.tokenIds[eos!.tokenIds.length - 1]).toBe(tokenizer.eosTokenId);
    expect(eos!.finishReason).toBe('eos');
  });

  it('spreads a batch over a pool with at most `concurrency` requests in flight per server, one seed per sequence', async () => {
    const a = await serve('vllm');
    const b = await serve('token-ids');
    const generator = new OpenAICompletionsGenerator({
      baseUrls: [a.url, b.url],
      model: 'tiny',
      tokenizer,
      concurrency: 2,
    });
    const prompts = Array.from({ length: 9 }, () => prompt);
    const results = await generator.generate(request(prompts));
    expect(results).toHaveLength(9);
    for (const result of results) expect(result.tokenIds).toEqual(expectedIds);
    expect(a.requests.length + b.requests.length).toBe(9);
    expect(a.requests.length).toBeGreaterThan(0);
    expect(b.requests.length).toBeGreaterThan(0);
    expect(a.maxInFlight).toBeLessThanOrEqual(2);
    expect(b.maxInFlight).toBeLessThanOrEqual(2);
    const seeds = [...a.requests, ...b.requests].map((body) => body.seed as number).sort((x, y) => x - y);
    expect(seeds).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15]);
  });

  it('retries a failed request on the next server, and does not retry a 4xx', async () => {
    const failing = await serve('vllm', { failFirst: 1 });
    const healthy = await serve('vllm');
    const generator = new OpenAICompletionsGenerator({
      baseUrls: [failing.url, healthy.url],
      model: 'tiny',
      tokenizer,
      concurrency: 1,
    });
    const results = await generator.generate(request([prompt]));
    expect(results[0]!.tokenIds).toEqual(expectedIds);
    expect(generator.requestCounts).toEqual([1, 1]);

    const refusing = await serve('vllm', { failFirst: 5, failStatus: 400 });
    const strict = new OpenAICompletionsGenerator({
      baseUrls: [refusing.url, healthy.url],
      model: 'tiny',
      tokenizer,
      concurrency: 1,
    });
    const error = await strict.generate(request([prompt])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InferenceServerError);
    expect((error as InferenceServerError).status).toBe(400);
    expect(strict.requestCounts).toEqual([1, 0]);
  });

  it('rejects a pool without servers, naming the option', () => {
    expect(() => new OpenAICompletionsGenerator({ baseUrls: [], model: 'x', tokenizer })).toThrow(
      /field 'baseUrls'/,
    );
    expect(
      () => new OpenAICompletionsGenerator({ baseUrls: ['localhost:8000'], model: 'x', tokenizer }),
    ).toThrow(/baseUrls\[0\]/);
  });

  it('drives a whole rollout over HTTP with masks that cover exactly the inserted block', async () => {
    const server = await serve('vllm');
    const generator = new OpenAICompletionsGenerator({ baseUrls: [server.url], model: 'tiny', tokenizer });
    const retriever = new InMemoryRetriever();
    const [trajectory] = await runRollout([{ id: 'nq_dev_0', promptTokenIds: prompt }], {
      generator,
      retriever,
      tokenizer,
      config: { maxObsTokens: 5000 },
    });
    const block = informationBlock((await new InMemoryRetriever().search(['moon landing'], 3))[0]!);
    const turn2 = tokenizer.encode('<think>found it</think><answer> December 1972 </answer>');
    expect(trajectory!.responseTokenIds).toEqual([...expectedIds, ...tokenizer.encode(block), ...turn2]);
    expect(Array.from(trajectory!.sampledMask)).toEqual([
      ...expectedIds.map(() => 1),
      ...tokenizer.encode(block).map(() => 0),
      ...turn2.map(() => 1),
    ]);
    expect(trajectory!.answer).toBe('December 1972');
    expect(trajectory!.searches[0]?.documents[0]?.id).toBe('0');
    expect(trajectory!.tokenExact).toBe(true);
    expect(server.requests[1]!.prompt).toEqual([...prompt, ...expectedIds, ...tokenizer.encode(block)]);
  });
});
