import { request as httpRequest } from 'node:http';
import { createRng } from '@sr1/core';
import type { GenerationRequest } from '@sr1/rollout';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFolder } from '../formats/model-folder.js';
import { initWeights } from '../formats/weights.js';
import { createRunner } from '../inference/engine.js';
import { GenerationAbortedError, generate } from '../inference/generate.js';
import { testWorkerUrl } from '../inference/test-worker.js';
import { ReferenceDecoderRunner } from '../reference/reference-runner.js';
import { SMALL_TOKENIZER, tinyModelFolder, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';
import { generatorFromEngine } from './generator-from-engine.js';
import { OpenAICompletionsGenerator } from './openai-generator.js';
import { servedGenerator, serveModel } from './serve.js';

// The engine reaches every Generator consumer (trainer, evaluations, serve) the one
// adapter, generatorFromEngine; these tests pin that it returns exactly what `generate` samples.
describe('the engine as a Generator (generatorFromEngine over generate)', async () => {
  const tokenizer = await loadTokenizer(SMALL_TOKENIZER);
  const base = { ...tinyQwen2(tokenizer.vocabSize), eosTokenIds: [...tokenizer.eosTokenIds] };
  const weights = initWeights(base, createRng(5), 0.5);
  const prompts = [
    tokenizer.encode('Question: who?'),
    tokenizer.encode('<search>'),
    tokenizer.encode('The capital of'),
  ];
  // A random model seldom samples EOS; making a token greedy decoding picks an EOS id covers that finish.
  const probe = await generate(new ReferenceDecoderRunner(base, weights), tokenizer, prompts, {
    maxNewTokens: 4,
    temperature: 0,
  });
  const config = { ...base, eosTokenIds: [...base.eosTokenIds, probe[1]!.tokenIds[2]!] };
  const cases: { name: string; request: Omit<GenerationRequest, 'prompts' | 'keys'> }[] = [
    { name: 'greedy', request: { maxNewTokens: 8, stop: ['</search>'], temperature: 0, topP: 1 } },
    {
      name: 'sampled, seeded',
      request: { maxNewTokens: 8, stop: ['</search>'], temperature: 1, topP: 0.9, seed: 3 },
    },
    { name: 'sampled, no seed (seed 0)', request: { maxNewTokens: 8, stop: [], temperature: 0.7, topP: 1 } },
  ];

  for (const { name, request } of cases) {
    it(`returns generate's ids, log-probs and finish reasons token for token: ${name}`, async () => {
      const runner = new ReferenceDecoderRunner(config, weights);
      const direct = await generate(runner, tokenizer, prompts, { ...request, seed: request.seed ?? 0 });
      const local = await generatorFromEngine((p, options) =>
        generate(runner, tokenizer, p, options),
      ).generate({
        ...request,
        prompts,
        keys: ['a', 'b', 'c'],
      });
      const deltas: string[][] = [[], [], []];
      const served = await servedGenerator(runner, tokenizer).generate({
        ...request,
        prompts,
        keys: ['a', 'b', 'c'],
        onDelta: (sequence, delta) => deltas[sequence]!.push(delta.text),
      });
      direct.forEach((sequence, i) => {
        for (const result of [local[i]!, served[i]!]) {
          expect(result.tokenIds).toEqual(sequence.tokenIds);
          expect(result.logProbs).toEqual(sequence.logprobs);
          expect(result.finishReason).toBe(sequence.finishReason);
          expect(result.tokenExact).not.toBe(false);
        }
        // Local text drops a final EOS (as `generate` has it); the served text is the decode of every id.
        expect(local[i]!.text).toBe(sequence.text);
        expect(served[i]!.text).toBe(tokenizer.decode(sequence.tokenIds));
        expect(deltas[i]!.join('')).toBe(served[i]!.text);
      });
      if (name === 'greedy') expect(direct.map((sequence) => sequence.finishReason)).toContain('eos');
    });
  }

  it('rejects with GenerationAbortedError when the signal is aborted mid-generation', async () => {
    const controller = new AbortController();
    const attempt = servedGenerator(new ReferenceDecoderRunner(base, weights), tokenizer).generate({
      prompts,
      keys: ['a', 'b', 'c'],
      maxNewTokens: 50,
      stop: [],
      temperature: 1,
      topP: 1,
      signal: controller.signal,
      onDelta: () => controller.abort(),
    });
    await expect(attempt).rejects.toBeInstanceOf(GenerationAbortedError);
  });
});

describe('sr1-model serve', () => {
  let workerUrl: URL; // the engine worker bundled from the sources (the built package ships its own)
  beforeAll(async () => {
    workerUrl = await testWorkerUrl();
  });

  it('answers /health while a batch decodes in the engine worker', async () => {
    const dir = await tinyModelFolder(7);
    const server = await serveModel({ model: dir, port: 0, workerUrl });
    try {
      const tokenizer = await loadTokenizer(dir);
      const events: string[] = [];
      // 8 prompts × up to 400 tokens: a long batch (greedy EOS would have to end all 8 early)
      const prompt = ['Question:', 'Who', 'The', '<search>', 'A', 'In', 'It', 'On'].map((text) =>
        tokenizer.encode(text),
      );
      const generation = fetch(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ prompt, max_tokens: 400, temperature: 0 }),
      }).then(async (response) => {
        events.push('completion');
        return response.status;
      });
      while (server.stats().running === 0) await new Promise((resolve) => setImmediate(resolve));
      const health = await fetch(`${server.url}/health`);
      events.push('health');
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect(server.stats().running).toBeGreaterThan(0); // answered during the batch
      expect(await generation).toBe(200);
      expect(events).toEqual(['health', 'completion']);
    } finally {
      await server.close();
    }
  });

  it('answers the OpenAI-compatible client token-exactly, as local generation does', async () => {
    const dir = await tinyModelFolder(3);
    const server = await serveModel({ model: dir, port: 0, workerUrl });
    try {
      const tokenizer = await loadTokenizer(dir);
      const client = new OpenAICompletionsGenerator({
        baseUrls: [server.url],
        model: server.modelId,
        tokenizer,
      });
      const prompts = [tokenizer.encode('Question: who'), tokenizer.encode('<search> a')];
      const request = {
        prompts,
        keys: ['a', 'b'],
        maxNewTokens: 6,
        stop: ['</search>'],
        temperature: 0,
        topP: 1,
      };
      const remote = await client.generate(request);
      const loaded = await loadModelFolder(dir);
      const local = await generate(await createRunner(loaded), tokenizer, prompts, {
        maxNewTokens: 6,
        temperature: 0,
        stop: ['</search>'],
      });
      remote.forEach((result, i) => {
        expect(result.tokenExact).not.toBe(false);
        expect(result.tokenIds).toEqual(local[i]!.tokenIds);
        result.logProbs.forEach((lp, t) => {
          expect(lp).toBeCloseTo(local[i]!.logprobs[t]!, 4);
        });
      });
      expect(server.stats().requests).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });

  it('answers a bad request 400 alone: the good requests sent with it all succeed', async () => {
    const dir = await tinyModelFolder(4);
    const server = await serveModel({ model: dir, port: 0, workerUrl });
    try {
      const tokenizer = await loadTokenizer(dir);
      const prompt = tokenizer.encode('Question: who wrote it?');
      const post = async (body: unknown) => {
        const response = await fetch(`${server.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: response.status, json: (await response.json()) as { error?: { message: string } } };
      };
      const good = { model: server.modelId, prompt, max_tokens: 2, temperature: 0 };
      // 8 at once, one with an id outside the 2,048-token vocabulary
      const first = await Promise.all([
        ...Array.from({ length: 7 }, () => post(good)),
        post({ ...good, prompt: [...prompt, 5000] }),
      ]);
      expect(first.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200, 200, 400]);
      expect(first[7]!.json.error!.message).toMatch(/prompt\[0\]\[\d+\].*outside the vocabulary \[0, 2048\)/);
      // 32 at once, one longer than the 1,024 positions the model holds
      const second = await Promise.all([
        ...Array.from({ length: 31 }, () => post(good)),
        post({ ...good, prompt: Array.from({ length: 1024 }, () => 7) }),
      ]);
      expect(second.slice(0, 31).every((r) => r.status === 200)).toBe(true);
      expect(second[31]!.status).toBe(400);
      expect(second[31]!.json.error!.message).toMatch(/1024 tokens.*context length 1024/);
    } finally {
      await server.close();
    }
  });

  it('stops the engine for a client that disconnects mid-generation', async () => {
    const dir = await tinyModelFolder(5);
    const server = await serveModel({ model: dir, port: 0, workerUrl });
    try {
      const tokenizer = await loadTokenizer(dir);
      const maxTokens = 1000;
      const request = httpRequest(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      request.on('error', () => {});
      request.end(JSON.stringify({ prompt: tokenizer.encode('Question:'), max_tokens: maxTokens }));
      while (server.stats().running === 0) await new Promise((resolve) => setImmediate(resolve));
      request.destroy();
      while (server.stats().running > 0) await new Promise((resolve) => setImmediate(resolve));
      expect(server.stats()).toMatchObject({ cancelled: 1, requests: 0, pending: 0 });
      expect(server.stats().generatedTokens).toBeLessThan(maxTokens);
    } finally {
      await server.close();
    }
  });

  it('stops only the disconnected sequence of a batch: its neighbour runs to the end', async () => {
    const dir = await tinyModelFolder(6);
    const server = await serveModel({ model: dir, port: 0, workerUrl });
    try {
      const tokenizer = await loadTokenizer(dir);
      const prompt = tokenizer.encode('Question:');
      const body = (maxTokens: number) =>
        JSON.stringify({ prompt, max_tokens: maxTokens, temperature: 1, seed: 1 });
      const post = (text: string) =>
        fetch(`${server.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: text,
        }).then(async (response) => ({
          status: response.status,
          json: (await response.json()) as { usage: { completion_tokens: number } },
        }));
      // A first request holds the engine, so the next two wait and then share one batch.
      const blocker = post(body(40));
      while (server.stats().running === 0) await new Promise((resolve) => setImmediate(resolve));
      const leaving = httpRequest(`${server.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      leaving.on('error', () => {});
      leaving.end(body(500));
      const staying = post(body(500));
      while (server.stats().running < 2) await new Promise((resolve) => setImmediate(resolve));
      leaving.destroy();
      const [first, second] = await Promise.all([blocker, staying]);
      expect(first.status).toBe(200);
      expect(second.status).toBe(200);
      const leftTokens =
        server.stats().generatedTokens -
        first.json.usage.completion_tokens -
        second.json.usage.completion_tokens;
      expect(server.stats()).toMatchObject({ cancelled: 1, requests: 2, generateCalls: 2 });
      expect(leftTokens).toBeLessThan(second.json.usage.completion_tokens);
    } finally {
      await server.close();
    }
  });
});
