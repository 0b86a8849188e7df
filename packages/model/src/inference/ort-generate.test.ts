import { createRng } from '@sr1/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { ReferenceDecoderRunner } from '../reference/reference-runner.js';
import { SMALL_TOKENIZER, tinyLlama, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './generate.js';
import { scoreSequences } from './score.js';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(SMALL_TOKENIZER);
});

describe.each([
  ['qwen2', tinyQwen2],
  ['llama', tinyLlama],
] as const)('end to end on the compiled graphs (%s, random tiny model)', (_name, makeConfig) => {
  let config: DecoderConfig;
  let weights: WeightMap;
  beforeAll(() => {
    config = { ...makeConfig(2048), eosTokenIds: [...tokenizer.eosTokenIds] };
    weights = initWeights(config, createRng(21), 0.5);
  });

  it('greedy generation on OrtDecoderRunner (KV cache, left padding, row selection) equals the reference runner', async () => {
    const ort = await OrtDecoderRunner.create(config, weights);
    const reference = new ReferenceDecoderRunner(config, weights);
    const prompts = ['The capital of France is', 'Who', '<search> moon </search>\n\n<information>'];
    try {
      // make a token only the first row greedily produces an EOS, so that row leaves the batch early
      const free = await generate(reference, tokenizer, prompts, {
        maxNewTokens: 8,
        temperature: 0,
        eosTokenIds: [],
      });
      const others = new Set([...free[1]!.tokenIds, ...free[2]!.tokenIds]);
      const onlyFirst = free[0]!.tokenIds.find((id) => !others.has(id));
      expect(onlyFirst).toBeDefined();
      const options = { maxNewTokens: 8, temperature: 0, stop: ['</answer>'], eosTokenIds: [onlyFirst!] };
      const fast = await generate(ort, tokenizer, prompts, options);
      const slow = await generate(reference, tokenizer, prompts, options);
      for (let i = 0; i < prompts.length; i++) {
        expect(fast[i]!.tokenIds).toEqual(slow[i]!.tokenIds);
        expect(fast[i]!.finishReason).toBe(slow[i]!.finishReason);
        fast[i]!.logprobs.forEach((logprob, j) => {
          expect(Math.abs(logprob - slow[i]!.logprobs[j]!)).toBeLessThan(1e-3);
        });
      }
      expect(fast[0]!.finishReason).toBe('eos');
      expect(fast.some((result) => result.finishReason === 'length')).toBe(true);
      // seeded sampling through the real cache path is reproducible
      const sampled = { maxNewTokens: 6, temperature: 1, topP: 0.95, seed: 4 };
      expect(await generate(ort, tokenizer, prompts, sampled)).toEqual(
        await generate(ort, tokenizer, prompts, sampled),
      );
    } finally {
      await ort.dispose();
    }
  });

  it('scoring on OrtDecoderRunner matches the float64 reference within 1e-4', async () => {
    const ort = await OrtDecoderRunner.create(config, weights);
    const reference = new ReferenceDecoderRunner(config, weights);
    const sequences = [
      tokenizer.encode('Paris is the capital of France.'),
      tokenizer.encode('Hi there'),
      [7],
    ];
    try {
      const fast = await scoreSequences(ort, sequences, { batchSize: 3, temperature: 0.8 });
      const slow = await scoreSequences(reference, sequences, { batchSize: 3, temperature: 0.8 });
      for (let i = 0; i < sequences.length; i++) {
        for (let j = 1; j < sequences[i]!.length; j++) {
          expect(Math.abs(fast[i]!.logprobs[j]! - slow[i]!.logprobs[j]!)).toBeLessThan(1e-4);
          expect(Math.abs(fast[i]!.entropies[j]! - slow[i]!.entropies[j]!)).toBeLessThan(1e-4);
        }
      }
    } finally {
      await ort.dispose();
    }
  });
});
