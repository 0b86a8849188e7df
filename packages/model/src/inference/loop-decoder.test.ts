// The decode-loop graph run by LoopDecoder against the step-by-step engine (generate on
// OrtDecoderRunner) and the scorer, on real tiny random models; and its transfer ledger.

import { createRng } from '@sr1/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { SMALL_TOKENIZER, tinyLlama, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './generate.js';
import { LoopDecoder } from './loop-decoder.js';
import { scoreSequences } from './score.js';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(SMALL_TOKENIZER);
});

const PROMPTS = [[5, 17, 300, 42, 7, 1999, 64], [11], [900, 901, 902, 3]];

describe.each([
  ['qwen2', tinyQwen2],
  ['llama', tinyLlama],
] as const)('LoopDecoder (%s, random tiny model)', (_name, makeConfig) => {
  let config: DecoderConfig;
  let weights: WeightMap;
  let runner: OrtDecoderRunner;
  let loop: LoopDecoder;
  beforeAll(async () => {
    config = { ...makeConfig(2048), eosTokenIds: [2047] };
    weights = initWeights(config, createRng(21), 0.5);
    runner = await OrtDecoderRunner.create(config, weights, { threads: 1 });
    loop = await LoopDecoder.load(config, weights, { threads: 1, seed: 3 });
  });
  afterAll(async () => {
    await runner.dispose();
    await loop.dispose();
  });

  it('greedy: the same tokens as generate on OrtDecoderRunner, log-probs within 1e-4; an EOS id ends its row', async () => {
    const free = await generate(runner, tokenizer, PROMPTS, {
      maxNewTokens: 8,
      temperature: 0,
      eosTokenIds: [],
    });
    const looped = await loop.generate(PROMPTS, { maxNewTokens: 8, temperature: 0, eosTokenIds: [] });
    // an id only row 0 produces, at its third token or later, becomes the EOS id: row 0 stops early
    const others = new Set([...free[1]!.tokenIds, ...free[2]!.tokenIds]);
    const eosId = free[0]!.tokenIds.slice(2).find((id) => !others.has(id));
    expect(eosId).toBeDefined();
    for (const eosTokenIds of [[], [eosId!]]) {
      const expected = await generate(runner, tokenizer, PROMPTS, {
        maxNewTokens: 8,
        temperature: 0,
        eosTokenIds,
      });
      const actual = await loop.generate(PROMPTS, { maxNewTokens: 8, temperature: 0, eosTokenIds });
      expected.forEach((row, i) => {
        expect(actual[i]!.promptTokenIds).toEqual(PROMPTS[i]);
        expect(actual[i]!.tokenIds).toEqual(row.tokenIds);
        expect(actual[i]!.finishReason).toBe(row.finishReason);
        expect(actual[i]!.logprobs).toHaveLength(row.logprobs.length);
        row.logprobs.forEach((logprob, j) => {
          expect(Math.abs(actual[i]!.logprobs[j]! - logprob)).toBeLessThan(1e-4);
        });
      });
    }
    expect(looped.map((row) => row.tokenIds)).toEqual(free.map((row) => row.tokenIds));
    const stopped = await loop.generate(PROMPTS, { maxNewTokens: 8, temperature: 0, eosTokenIds: [eosId!] });
    expect(stopped[0]!.finishReason).toBe('eos');
    expect(stopped[0]!.tokenIds.length).toBeLessThan(8);
    expect(stopped[0]!.tokenIds.at(-1)).toBe(eosId);
  });

  it('one new token, and a run that ends early when every row has hit an EOS id', async () => {
    const one = await loop.generate(PROMPTS, { maxNewTokens: 1, temperature: 0, eosTokenIds: [] });
    const expected = await generate(runner, tokenizer, PROMPTS, {
      maxNewTokens: 1,
      temperature: 0,
      eosTokenIds: [],
    });
    expect(one.map((row) => row.tokenIds)).toEqual(expected.map((row) => row.tokenIds));
    // every row's first greedy token as EOS: the loop stops after its first check, one column out
    const firsts = one.map((row) => row.tokenIds[0]!);
    loop.resetLedger();
    const ended = await loop.generate(PROMPTS, { maxNewTokens: 6, temperature: 0, eosTokenIds: firsts });
    ended.forEach((row, i) => {
      expect(row.tokenIds).toEqual([firsts[i]]);
      expect(row.finishReason).toBe('eos');
    });
    expect(loop.ledger.lastRun.bytesOut).toBe(PROMPTS.length * (8 + 4) + PROMPTS.length * 8);
  });

  it('temperature sampling: valid ids whose log-probs equal the scorer’s at that temperature within 1e-4', async () => {
    const temperature = 0.8;
    const sampled = await loop.generate(PROMPTS, { maxNewTokens: 6, temperature, eosTokenIds: [] });
    const greedy = await loop.generate(PROMPTS, { maxNewTokens: 6, temperature: 0, eosTokenIds: [] });
    expect(sampled.map((row) => row.tokenIds)).not.toEqual(greedy.map((row) => row.tokenIds));
    const scored = await scoreSequences(
      runner,
      sampled.map((row) => [...row.promptTokenIds, ...row.tokenIds]),
      { temperature },
    );
    sampled.forEach((row, i) => {
      expect(row.tokenIds).toHaveLength(6);
      for (const id of row.tokenIds)
        expect(Number.isInteger(id) && id >= 0 && id < config.vocabSize).toBe(true);
      row.logprobs.forEach((logprob, j) => {
        const reference = scored[i]!.logprobs[row.promptTokenIds.length + j]!;
        expect(Math.abs(logprob - reference)).toBeLessThan(1e-4);
      });
    });
  });

  it('stops each row at the model’s position limit, as generate does', async () => {
    const short = { ...config, maxPositionEmbeddings: 10 };
    const shortRunner = await OrtDecoderRunner.create(short, weights, { threads: 1 });
    const shortLoop = await LoopDecoder.load(short, weights, { threads: 1 });
    try {
      const options = { maxNewTokens: 6, temperature: 0, eosTokenIds: [] };
      const expected = await generate(shortRunner, tokenizer, PROMPTS, options);
      const actual = await shortLoop.generate(PROMPTS, options);
      expect(actual.map((row) => row.tokenIds.length)).toEqual([3, 6, 6]); // 7 + 3 = 10 positions
      expect(actual.map((row) => row.tokenIds)).toEqual(expected.map((row) => row.tokenIds));
      expect(actual.map((row) => row.finishReason)).toEqual(expected.map((row) => row.finishReason));
    } finally {
      await shortRunner.dispose();
      await shortLoop.dispose();
    }
  });

  it('a new decoder with the same seed draws the same samples', async () => {
    const again = await LoopDecoder.load(config, weights, { threads: 1, seed: 3 });
    const other = await LoopDecoder.load(config, weights, { threads: 1, seed: 4 });
    try {
      const options = { maxNewTokens: 6, temperature: 1, eosTokenIds: [] };
      const a = await again.generate(PROMPTS, options);
      const b = await other.generate(PROMPTS, options);
      const fresh = await LoopDecoder.load(config, weights, { threads: 1, seed: 3 });
      const c = await fresh.generate(PROMPTS, options);
      await fresh.dispose();
      expect(c).toEqual(a);
      expect(b.map((row) => row.tokenIds)).not.toEqual(a.map((row) => row.tokenIds));
    } finally {
      await again.dispose();
      await other.dispose();
    }
  });
});

describe('LoopDecoder transfer ledger', () => {
  it('feeds the prompts and fetches the tokens: no weight and no cache byte per run', async () => {
    const config: DecoderConfig = { ...tinyQwen2(2048), eosTokenIds: [2047] };
    const weights = initWeights(config, createRng(5), 0.5);
    const loop = await LoopDecoder.load(config, weights, { threads: 1, externalData: 'always' });
    try {
      const batch = PROMPTS.length;
      const width = 7; // the longest prompt
      const steps = 5;
      const eosTokenIds = [2047, 2046];
      await loop.generate(PROMPTS, { maxNewTokens: steps, temperature: 0, eosTokenIds: [] }); // warm-up
      loop.resetLedger();
      const out = await loop.generate(PROMPTS, { maxNewTokens: steps, temperature: 0.7, eosTokenIds });
      const ran = Math.max(...out.map((row) => row.tokenIds.length));
      // in: ids, mask, positions (batch, width) int64; max_new () int64; row budgets (batch) int64;
      // temperature () float32; stop ids (2) int64. out: tokens (batch, steps) int64, log-probs
      // (batch, steps) float32, lengths (batch) int64.
      const bytesIn = 3 * batch * width * 8 + 8 + batch * 8 + 4 + eosTokenIds.length * 8;
      const bytesOut = batch * ran * (8 + 4) + batch * 8;
      expect(loop.ledger).toEqual({
        runs: 1,
        bytesIn,
        bytesOut,
        lastRun: { bytesIn, bytesOut },
        initializerBytes: undefined, // loaded from a file: the decoder counts its weights itself
      });
      let weightBytes = 0;
      for (const tensor of weights.values()) weightBytes += tensor.data.byteLength;
      expect(loop.weightBytes).toBe(weightBytes);
      expect(bytesIn + bytesOut).toBeLessThan(weightBytes / 100);
    } finally {
      await loop.dispose();
    }
  });
});
