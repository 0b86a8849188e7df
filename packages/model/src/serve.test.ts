import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { OpenAICompletionsGenerator } from '@sr1/rollout';
import { describe, expect, it } from 'vitest';
import { createRunner } from './engine.js';
import type { DecoderConfig } from './engine-types.js';
import { generate } from './generate.js';
import { loadModelFolder, saveModelFolder } from './model-folder.js';
import { serveModel } from './serve.js';
import { SMALL_TOKENIZER_DIR } from './test-paths.js';
import { loadTokenizer } from './tokenizer.js';
import { initWeights } from './weights.js';

const CONFIG: DecoderConfig = {
  modelType: 'qwen2',
  vocabSize: 2048,
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  tieWordEmbeddings: true,
  attentionBias: true,
  outputBias: false,
  mlpBias: false,
  maxPositionEmbeddings: 256,
  bosTokenId: null,
  eosTokenIds: [2047],
};

async function tinyModelDir(seed: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-serve-'));
  await saveModelFolder(
    dir,
    { config: CONFIG, weights: initWeights(CONFIG, createRng(seed)) },
    { tokenizerDir: SMALL_TOKENIZER_DIR },
  );
  return dir;
}

describe('sr1-model serve', () => {
  it('answers the OpenAI-compatible client token-exactly, as local generation does', async () => {
    const dir = await tinyModelDir(3);
    const server = await serveModel({ model: dir, port: 0 });
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
        result.logProbs.forEach((lp, t) => expect(lp).toBeCloseTo(local[i]!.logprobs[t]!, 4));
      });
      expect(server.stats().requests).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
