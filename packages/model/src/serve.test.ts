import { OpenAICompletionsGenerator } from '@sr1/rollout';
import { describe, expect, it } from 'vitest';
import { createRunner } from './engine.js';
import { generate } from './generate.js';
import { loadModelFolder } from './model-folder.js';
import { serveModel } from './serve.js';
import { tinyModelFolder } from './testing.js';
import { loadTokenizer } from './tokenizer.js';

describe('sr1-model serve', () => {
  it('answers the OpenAI-compatible client token-exactly, as local generation does', async () => {
    const dir = await tinyModelFolder(3);
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
        result.logProbs.forEach((lp, t) => {
          expect(lp).toBeCloseTo(local[i]!.logprobs[t]!, 4);
        });
      });
      expect(server.stats().requests).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});
