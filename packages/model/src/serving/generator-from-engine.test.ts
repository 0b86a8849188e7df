import { GeneratorContractError } from '@sr1/rollout';
import { PieceTokenizer } from '@sr1/rollout/testing';
import { describe, expect, it } from 'vitest';
import { type EngineGenerateOptions, generatorFromEngine } from './generator-from-engine.js';

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

  it('streams text deltas through onToken only when given a tokenizer, and forwards the signal', async () => {
    // An engine that emits the prompt reversed, one token at a time, as @sr1/model's generate does.
    const seen: EngineGenerateOptions[] = [];
    const engine = async (prompts: readonly (readonly number[])[], options: EngineGenerateOptions) => {
      seen.push(options);
      return prompts.map((prompt, sequence) => {
        const tokenIds = [...prompt].reverse();
        for (const id of tokenIds) options.onToken?.(sequence, id);
        return {
          tokenIds,
          text: tokenizer.decode(tokenIds),
          logprobs: tokenIds.map(() => -1),
          finishReason: 'length' as const,
        };
      });
    };
    const request = {
      prompts: [tokenizer.encode('<search>'), tokenizer.encode('ab')],
      keys: ['a', 'b'],
      maxNewTokens: 20,
      stop: [],
      temperature: 1,
      topP: 1,
      signal: new AbortController().signal,
    };
    const deltas: { sequence: number; text: string; tokenIds: readonly number[] }[] = [];
    const onDelta = (sequence: number, delta: { text: string; tokenIds: readonly number[] }) =>
      deltas.push({ sequence, ...delta });

    const streaming = await generatorFromEngine(engine, { tokenizer }).generate({ ...request, onDelta });
    expect(seen[0]!.signal).toBe(request.signal);
    expect(seen[0]!.onToken).toBeTypeOf('function');
    streaming.forEach((result, sequence) => {
      const mine = deltas.filter((delta) => delta.sequence === sequence);
      expect(mine.map((delta) => delta.text).join('')).toBe(result.text);
      expect(mine.flatMap((delta) => delta.tokenIds)).toEqual(result.tokenIds);
    });
    expect(deltas.length).toBe(streaming.reduce((sum, result) => sum + result.tokenIds.length, 0));

    deltas.length = 0;
    const whole = await generatorFromEngine(engine).generate({ ...request, onDelta });
    expect(seen[1]!.onToken).toBeUndefined();
    expect(deltas).toEqual([]);
    expect(whole).toEqual(streaming);
  });

  it('fails loudly when the engine returns the wrong number of sequences', async () => {
    const generator = generatorFromEngine(async () => []);
    await expect(
      generator.generate({ prompts: [[1]], keys: ['a'], maxNewTokens: 1, stop: [], temperature: 1, topP: 1 }),
    ).rejects.toThrow(GeneratorContractError);
  });
});
