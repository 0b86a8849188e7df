import { describe, expect, it } from 'vitest';
import { type EngineGenerateOptions, generatorFromEngine } from './engine-generator.js';
import { GeneratorContractError } from './errors.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';

const tokenizer = new PieceTokenizer();

describe('generatorFromEngine', () => {
  it('passes the sampling options through and renames log-probs', async () => {
    const seen: EngineGenerateOptions[] = [];
    const generator = generatorFromEngine(async (prompts, options) => {
      seen.push(options);
      return prompts.map((prompt) => ({
        tokenIds: [...prompt].reverse(),
        text: tokenizer.decode([...prompt].reverse()),
        logprobs: prompt.map((_, i) => -i),
        finishReason: 'eos' as const,
      }));
    });
    const results = await generator.generate({
      prompts: [tokenizer.encode('ab'), tokenizer.encode('xyz')],
      keys: ['a', 'b'],
      maxNewTokens: 9,
      stop: ['</search>'],
      temperature: 0.7,
      topP: 0.9,
      seed: 5,
    });
    expect(seen).toEqual([{ maxNewTokens: 9, temperature: 0.7, topP: 0.9, stop: ['</search>'], seed: 5 }]);
    expect(results).toEqual([
      { tokenIds: tokenizer.encode('ba'), text: 'ba', logProbs: [-0, -1], finishReason: 'eos' },
      { tokenIds: tokenizer.encode('zyx'), text: 'zyx', logProbs: [-0, -1, -2], finishReason: 'eos' },
    ]);
  });

  it('fails loudly when the engine returns the wrong number of sequences', async () => {
    const generator = generatorFromEngine(async () => []);
    await expect(
      generator.generate({ prompts: [[1]], keys: ['a'], maxNewTokens: 1, stop: [], temperature: 1, topP: 1 }),
    ).rejects.toThrow(GeneratorContractError);
  });
});
