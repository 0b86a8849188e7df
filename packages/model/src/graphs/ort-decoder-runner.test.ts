// OrtDecoderRunner with the weights held by its sessions ('initializers') against the default
// runner that feeds them every run: the same greedy tokens and log-probs from `generate`, new
// weights taking effect at `setWeights` (a forward already running finishes on the old ones),
// and a ledger in which no weights cross per run.

import { createRng } from '@sr1/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, ForwardInputs, WeightMap } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { generate } from '../inference/generate.js';
import { SMALL_TOKENIZER, tinyLlama, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { OrtDecoderRunner } from './ort-decoder-runner.js';

let tokenizer: Tokenizer;
beforeAll(async () => {
  tokenizer = await loadTokenizer(SMALL_TOKENIZER);
});

const PROMPTS = [[5, 17, 300, 42, 7, 1999, 64], [11], [900, 901, 902, 3]];

function bytesOf(weights: WeightMap): number {
  let bytes = 0;
  for (const tensor of weights.values()) bytes += tensor.data.byteLength;
  return bytes;
}

/** One decode step's inputs for a batch of one after `length` cached tokens. */
function step(token: number, length: number): ForwardInputs {
  return {
    inputIds: BigInt64Array.of(BigInt(token)),
    attentionMask: new BigInt64Array(length + 1).fill(1n),
    positionIds: BigInt64Array.of(BigInt(length)),
    batchSize: 1,
    newLength: 1,
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe.each([
  ['qwen2', tinyQwen2, false],
  ['llama, fused', tinyLlama, true],
] as const)('OrtDecoderRunner, weights as initializers (%s)', (_name, makeConfig, fused) => {
  let config: DecoderConfig;
  let weights: WeightMap;
  let fed: OrtDecoderRunner;
  let held: OrtDecoderRunner;
  beforeAll(async () => {
    config = { ...makeConfig(2048), eosTokenIds: [2047] };
    weights = initWeights(config, createRng(21), 0.5);
    fed = await OrtDecoderRunner.create(config, weights, { threads: 1 });
    held = await OrtDecoderRunner.create(config, weights, { threads: 1, fused, weightsAs: 'initializers' });
  });
  afterAll(async () => {
    await fed.dispose();
    await held.dispose();
  });

  it('generate: the same greedy tokens as the fed runner, log-probs within 1e-4', async () => {
    const options = { maxNewTokens: 12, temperature: 0, eosTokenIds: [] };
    const expected = await generate(fed, tokenizer, PROMPTS, options);
    const actual = await generate(held, tokenizer, PROMPTS, options);
    expected.forEach((row, i) => {
      expect(actual[i]!.tokenIds).toEqual(row.tokenIds);
      expect(maxAbsDiff(actual[i]!.logprobs, row.logprobs)).toBeLessThan(1e-4);
    });
  });

  it('setWeights: the next forward uses the new weights; one already running finishes on the old', async () => {
    const other = initWeights(config, createRng(22), 0.5);
    const reference = await OrtDecoderRunner.create(config, other, { threads: 1 });
    const runner = await OrtDecoderRunner.create(config, weights, {
      threads: 1,
      fused,
      weightsAs: 'initializers',
    });
    try {
      const prompt = { ...step(5, 0), inputIds: BigInt64Array.of(5n, 17n, 300n), newLength: 3 };
      prompt.attentionMask = new BigInt64Array(3).fill(1n);
      prompt.positionIds = BigInt64Array.of(0n, 1n, 2n);
      const prefilled = await runner.prefill(prompt, { lastOnly: true });
      const old = await fed.decode(step(42, 3), (await fed.prefill(prompt, { lastOnly: true })).cache, {
        lastOnly: true,
      });
      const running = runner.decode(step(42, 3), prefilled.cache, { lastOnly: true });
      runner.setWeights(other); // while the decode above is in flight
      expect(maxAbsDiff((await running).logits, old.logits)).toBeLessThan(1e-4);

      const expected = await reference.prefill(prompt, { lastOnly: true });
      const actual = await runner.prefill(prompt, { lastOnly: true });
      expect(maxAbsDiff(actual.logits, expected.logits)).toBeLessThan(1e-4);
      expect(maxAbsDiff(actual.logits, prefilled.logits)).toBeGreaterThan(1e-3); // the weights did change
      const next = await runner.decode(step(42, 3), actual.cache, { lastOnly: true });
      const nextExpected = await reference.decode(step(42, 3), expected.cache, { lastOnly: true });
      expect(maxAbsDiff(next.logits, nextExpected.logits)).toBeLessThan(1e-4);
      expect(runner.ledger.runs).toBe(4); // the run on the released session is still counted
    } finally {
      await reference.dispose();
      await runner.dispose();
    }
  });

  it('ledger: the fed runner moves every weight at every run, the held one none', async () => {
    fed.resetLedger();
    held.resetLedger();
    const options = { maxNewTokens: 4, temperature: 0, eosTokenIds: [] };
    await generate(fed, tokenizer, [PROMPTS[0]!], options);
    await generate(held, tokenizer, [PROMPTS[0]!], options);
    const weightBytes = bytesOf(weights);
    expect(fed.ledger.runs).toBe(4);
    expect(held.ledger.runs).toBe(4);
    // the same ids, masks and KV cache; only the weights are not fed
    expect(held.ledger.bytesIn).toBeGreaterThan(0);
    expect(held.ledger.bytesIn).toBe(fed.ledger.bytesIn - 4 * weightBytes);
    expect(held.ledger.bytesOut).toBe(fed.ledger.bytesOut);
  });
});
