import { afterEach, describe, expect, it } from 'vitest';
import { OpenAICompletionsGenerator } from './openai-generator.js';
import { type CompletionsServer, startCompletionsServer } from './openai-server.js';
import { encodePrompt } from './prompt.js';
import { INVALID_ACTION_MESSAGE, informationBlock } from './protocol.js';
import { runRollout } from './rollout.js';
import { InMemoryRetriever } from './testing/in-memory-retriever.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';
import { RuleBasedGenerator, scriptedLogProb } from './testing/scripted-generator.js';
import type { GenerationRequest, GenerationResult, Generator } from './types.js';

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
async function serve(generator: Generator, maxBatchSize?: number): Promise<CompletionsServer> {
  const server = await startCompletionsServer({
    generator,
    tokenizer,
    model: 'tiny',
    ...(maxBatchSize ? { maxBatchSize } : {}),
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
    expect(server.stats()).toEqual({ requests: 4, generateCalls: 2, pending: 0 });
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
      expect(Array.from(trajectory.responseMask)).toEqual([
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
});
