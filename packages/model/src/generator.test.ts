import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { GenerationAbortedError, generate } from './generate.js';
import { RunnerGenerator } from './generator.js';
import { ReferenceDecoderRunner } from './reference-runner.js';
import { tinyQwen2 } from './test-configs.js';
import { SMALL_TOKENIZER_DIR } from './test-paths.js';
import { loadTokenizer } from './tokenizer.js';
import { initWeights } from './weights.js';

describe('RunnerGenerator (the rollout Generator over a runner)', async () => {
  const tokenizer = await loadTokenizer(SMALL_TOKENIZER_DIR);
  const config = { ...tinyQwen2(tokenizer.vocabSize), eosTokenIds: [...tokenizer.eosTokenIds] };
  const weights = initWeights(config, createRng(5), 0.5);
  const prompts = [tokenizer.encode('Question: who?'), tokenizer.encode('<search>')];

  it('returns what generate returns, under the rollout field names, with streaming deltas', async () => {
    const runner = new ReferenceDecoderRunner(config, weights);
    const generator = new RunnerGenerator(runner, tokenizer);
    const deltas: string[][] = [[], []];
    const results = await generator.generate({
      prompts,
      keys: ['a', 'b'],
      maxNewTokens: 5,
      stop: ['</search>'],
      temperature: 1,
      topP: 0.9,
      seed: 3,
      onDelta: (sequence, delta) => deltas[sequence]!.push(delta.text),
    });
    const direct = await generate(runner, tokenizer, prompts, {
      maxNewTokens: 5,
      stop: ['</search>'],
      temperature: 1,
      topP: 0.9,
      seed: 3,
    });
    results.forEach((result, i) => {
      expect(result.tokenIds).toEqual(direct[i]!.tokenIds);
      expect(result.logProbs).toEqual(direct[i]!.logprobs);
      expect(result.finishReason).toBe(direct[i]!.finishReason);
      expect(result.text).toBe(tokenizer.decode(result.tokenIds));
      expect(deltas[i]!.join('')).toBe(result.text);
      expect(result.tokenExact).toBe(true);
    });
  });

  it('rejects with GenerationAbortedError when the signal is aborted', async () => {
    const generator = new RunnerGenerator(new ReferenceDecoderRunner(config, weights), tokenizer);
    const controller = new AbortController();
    const attempt = generator.generate({
      prompts,
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
