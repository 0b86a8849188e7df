import { createRng } from '@sr1/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { SMALL_TOKENIZER, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { type GeneratedSequence, GenerationAbortedError, generate } from './generate.js';
import { ContinuousBatchScheduler, type TurnResult, UnknownSessionError } from './scheduler.js';

let tokenizer: Tokenizer;
let config: DecoderConfig;
let weights: WeightMap;
let runner: OrtDecoderRunner;

beforeAll(async () => {
  tokenizer = await loadTokenizer(SMALL_TOKENIZER);
  config = { ...tinyQwen2(2048), maxPositionEmbeddings: 256, eosTokenIds: [...tokenizer.eosTokenIds] };
  // std 0.5 so the random model has peaked, prompt-dependent distributions
  weights = initWeights(config, createRng(31), 0.5);
  runner = await OrtDecoderRunner.create(config, weights);
});
afterAll(async () => {
  await runner?.dispose();
});

const PROMPTS = [
  'The capital of France is',
  'Who',
  '<search> moon landing </search>\n\n<information>Doc 1(Title: Moon) the last crewed landing was in 1972',
  'Answer the question. Think first, then search if you need to.',
];

/** The existing engine on one prompt alone: the reference every scheduled request must equal. */
async function alone(prompt: readonly number[], maxNewTokens: number, stop: string[] = []) {
  const [result] = await generate(runner, tokenizer, [prompt], {
    maxNewTokens,
    temperature: 0,
    stop,
    eosTokenIds: [],
  });
  return result!;
}

function expectSame(actual: TurnResult, expected: GeneratedSequence): void {
  expect(actual.tokenIds).toEqual(expected.tokenIds);
  expect(actual.finishReason).toBe(expected.finishReason);
  expect(actual.text).toBe(expected.text);
  expect(actual.logprobs).toHaveLength(expected.logprobs.length);
  actual.logprobs.forEach((logprob, i) => {
    expect(Math.abs(logprob - expected.logprobs[i]!)).toBeLessThan(1e-5);
  });
}

describe('ContinuousBatchScheduler on a random tiny model (greedy)', () => {
  it('requests admitted at different steps and of different lengths each equal generate run alone', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { prefillTokensPerStep: 16 });
    const prompts = PROMPTS.map((text) => tokenizer.encode(text));
    const budgets = [12, 3, 9, 20];
    // Staggered: the later requests arrive while the first ones are decoding.
    const pending: Promise<{ session: number; result: TurnResult }>[] = [];
    for (const [i, prompt] of prompts.entries()) {
      pending.push(scheduler.start(prompt, { maxNewTokens: budgets[i]!, temperature: 0, eosTokenIds: [] }));
      for (let wait = 0; wait < 3 * i; wait++) await new Promise((resolve) => setImmediate(resolve));
    }
    const results = await Promise.all(pending);
    for (const [i, prompt] of prompts.entries()) {
      expectSame(results[i]!.result, await alone(prompt, budgets[i]!));
    }
    const stats = scheduler.stats();
    expect(stats.maxBatch).toBeGreaterThan(1); // they really shared decode steps
    // the long prompt (> 16 tokens) was prefilled in chunks
    expect(prompts[2]!.length).toBeGreaterThan(16);
    expect(stats.prefillTokens).toBe(prompts.reduce((sum, prompt) => sum + prompt.length, 0));
  });

  it('rows leaving mid-batch and rows joining into their slots (the batch compacted) each equal generate', async () => {
    // Batch of 3: short turns leave from the front and the middle while longer rows go on; the
    // waiting requests take their slots and rows past the end move into them.
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { maxBatchSize: 3 });
    const prompts = [...PROMPTS, PROMPTS[0]! + ' and', PROMPTS[3]! + ' Now.'].map((text) =>
      tokenizer.encode(text),
    );
    const budgets = [2, 14, 4, 11, 3, 9];
    const results = await Promise.all(
      prompts.map((prompt, i) =>
        scheduler.start(prompt, { maxNewTokens: budgets[i]!, temperature: 0, eosTokenIds: [] }),
      ),
    );
    for (const [i, prompt] of prompts.entries()) {
      expectSame(results[i]!.result, await alone(prompt, budgets[i]!));
    }
    expect(scheduler.stats().maxBatch).toBe(3);
  });

  it('rows of very different lengths decode in separate groups (one forward each), each equal to generate', async () => {
    const long = tokenizer.encode(PROMPTS[2]!.repeat(3)); // ~ 100 tokens: over twice the room a short row needs
    expect(long.length).toBeGreaterThan(80);
    const prompts = [long, tokenizer.encode(PROMPTS[1]!), tokenizer.encode(PROMPTS[0]!)];
    const budgets = [10, 12, 6];
    const run = async (forwardCostSlots: number) => {
      const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { forwardCostSlots });
      const results = await Promise.all(
        prompts.map((prompt, i) =>
          scheduler.start(prompt, { maxNewTokens: budgets[i]!, temperature: 0, eosTokenIds: [] }),
        ),
      );
      return { results, stats: scheduler.stats() };
    };
    const split = await run(0); // never merge: the long row and the short ones in two groups
    expect(split.stats.decodeForwards).toBeGreaterThan(split.stats.decodeSteps);
    const merged = await run(1e9); // always merge: one forward per step
    expect(merged.stats.decodeForwards).toBe(merged.stats.decodeSteps);
    for (const [i, prompt] of prompts.entries()) {
      const expected = await alone(prompt, budgets[i]!);
      expectSame(split.results[i]!.result, expected);
      expectSame(merged.results[i]!.result, expected);
    }
  });

  it('a stop string ends the turn at the same token as generate', async () => {
    const prompt = tokenizer.encode(PROMPTS[0]!);
    const free = await alone(prompt, 12);
    const stop =
      tokenizer.decode(free.tokenIds.slice(4, 5)).trim() || tokenizer.decode(free.tokenIds.slice(4, 6));
    expect(stop.length).toBeGreaterThan(0);
    const expected = await alone(prompt, 12, [stop]);
    expect(expected.finishReason).toBe('stop');
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
    const { result } = await scheduler.start(prompt, {
      maxNewTokens: 12,
      temperature: 0,
      stop: [stop],
      eosTokenIds: [],
    });
    expectSame(result, expected);
    expect(result.stopString).toBe(stop);
  });

  it('two stop strings completing at one token: the earlier in the text wins, whatever the list order', async () => {
    const prompt = tokenizer.encode(PROMPTS[0]!);
    const free = await alone(prompt, 12);
    const late = tokenizer.decode(free.tokenIds.slice(5, 6)); // the text of token 5 alone
    const early = tokenizer.decode(free.tokenIds.slice(4, 6)); // tokens 4–5: starts earlier, ends at the same token
    expect(late.length).toBeGreaterThan(0);
    expect(tokenizer.decode(free.tokenIds.slice(0, 5))).not.toContain(late); // neither completes before token 5
    const stop = [late, early]; // the later match listed first
    const expected = await alone(prompt, 12, stop);
    expect(expected.stopString).toBe(early);
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
    const { result } = await scheduler.start(prompt, {
      maxNewTokens: 12,
      temperature: 0,
      stop,
      eosTokenIds: [],
    });
    expectSame(result, expected);
    expect(result.stopString).toBe(early);
  });

  it('a paused session continues on its cached prefix: only the appended tokens are prefilled', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { prefillTokensPerStep: 8 });
    const prompts = [PROMPTS[0]!, PROMPTS[3]!].map((text) => tokenizer.encode(text));
    const appended = [tokenizer.encode('\n\n<information>Paris</information>\n\n'), tokenizer.encode(' ok')];
    const turns = await Promise.all(
      prompts.map(async (prompt, i) => {
        const first = await scheduler.start(prompt, { maxNewTokens: 5 + i, temperature: 0, eosTokenIds: [] });
        const second = await scheduler.continue(first.session, appended[i]!, {
          maxNewTokens: 7,
          temperature: 0,
          eosTokenIds: [],
        });
        return { first: first.result, second };
      }),
    );
    for (const [i, prompt] of prompts.entries()) {
      const first = await alone(prompt, 5 + i);
      expectSame(turns[i]!.first, first);
      // the lock-step way: re-prefill everything, prompt + turn 1 + appended
      const second = await alone([...prompt, ...first.tokenIds, ...appended[i]!], 7);
      expectSame(turns[i]!.second, second);
      // the last sampled token and the appended ones were prefilled; the rest came from the cache
      expect(turns[i]!.second.prefilledTokens).toBe(appended[i]!.length + 1);
      expect(turns[i]!.second.reusedTokens).toBe(prompt.length + first.tokenIds.length - 1);
    }
    expect(scheduler.sessionCount).toBe(2);
    expect(scheduler.stats().parkedBytes).toBeGreaterThan(0);
  });

  it('an evicted cache is recomputed on continue, with the same result', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { kvBudgetBytes: 0 });
    const prompt = tokenizer.encode(PROMPTS[1]!);
    const first = await scheduler.start(prompt, { maxNewTokens: 4, temperature: 0, eosTokenIds: [] });
    expect(scheduler.stats().evictions).toBe(1);
    expect(scheduler.stats().parkedBytes).toBe(0);
    const append = tokenizer.encode(' again');
    const second = await scheduler.continue(first.session, append, {
      maxNewTokens: 6,
      temperature: 0,
      eosTokenIds: [],
    });
    const context = [...prompt, ...first.result.tokenIds, ...append];
    expectSame(second, await alone(context, 6));
    expect(second.prefilledTokens).toBe(context.length);
    expect(scheduler.stats().recomputedTokens).toBe(context.length);
  });

  it('seeded sampling of a request equals generate with that seed', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
    const prompt = tokenizer.encode(PROMPTS[2]!);
    const options = { maxNewTokens: 10, temperature: 1, topP: 0.9, seed: 7, eosTokenIds: [] };
    const [expected] = await generate(runner, tokenizer, [prompt], options);
    const [a, b] = await Promise.all([
      scheduler.start(prompt, options),
      scheduler.start(tokenizer.encode(PROMPTS[0]!), { ...options, seed: 8 }),
    ]);
    expect(a.result.tokenIds).toEqual(expected!.tokenIds);
    expect(b.result.tokenIds).not.toEqual(a.result.tokenIds);
  });

  it('an aborted request stops and releases its session; the others finish', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
    const controller = new AbortController();
    let seen = 0;
    const prompt = tokenizer.encode(PROMPTS[0]!);
    const doomed = scheduler.start(prompt, {
      maxNewTokens: 200,
      temperature: 0,
      eosTokenIds: [],
      signal: controller.signal,
      onToken: () => {
        seen += 1;
        if (seen === 3) controller.abort();
      },
    });
    const other = scheduler.start(prompt, { maxNewTokens: 30, temperature: 0, eosTokenIds: [] });
    await expect(doomed).rejects.toBeInstanceOf(GenerationAbortedError);
    expect(seen).toBeLessThan(10);
    expectSame((await other).result, await alone(prompt, 30));
    expect(scheduler.sessionCount).toBe(1);
    await expect(scheduler.continue(999, [1], { maxNewTokens: 1 })).rejects.toBeInstanceOf(
      UnknownSessionError,
    );
  });

  it('a continued turn aborted mid-prefill leaves the batch; the decoding row goes on unchanged', async () => {
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer, { prefillTokensPerStep: 4 });
    const options = { maxNewTokens: 2, temperature: 0, eosTokenIds: [] };
    const first = await scheduler.start(tokenizer.encode(PROMPTS[1]!), options);
    const prefilledBefore = scheduler.stats().prefillTokens;
    const append = tokenizer.encode(PROMPTS[2]!); // dozens of tokens: many 4-token prefill chunks
    const controller = new AbortController();
    const prompt = tokenizer.encode(PROMPTS[0]!);
    let seen = 0;
    const other = scheduler.start(prompt, {
      ...options,
      maxNewTokens: 20,
      onToken: () => {
        seen += 1;
        if (seen === 2) controller.abort(); // while the long append is still being prefilled
      },
    });
    const doomed = scheduler.continue(first.session, append, { ...options, signal: controller.signal });
    await expect(doomed).rejects.toBeInstanceOf(GenerationAbortedError);
    expectSame((await other).result, await alone(prompt, 20));
    // the aborted turn stopped prefilling: fewer than its append (+ the last sampled token) went through
    const prefilled = scheduler.stats().prefillTokens - prefilledBefore - prompt.length;
    expect(prefilled).toBeLessThan(append.length + 1);
    expect(scheduler.sessionCount).toBe(1); // the other's kept session; the aborted one is gone
    await expect(scheduler.continue(first.session, [1], options)).rejects.toBeInstanceOf(UnknownSessionError);
  });
});
