import { createRng } from '@sr1/core';
import { beforeAll, describe, expect, it } from 'vitest';
import type {
  DecoderConfig,
  DecoderRunner,
  ForwardInputs,
  ForwardOutputs,
  KvCache,
  WeightMap,
} from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { referenceForward, referenceLogProbs } from '../reference/reference-decoder.js';
import { ReferenceDecoderRunner } from '../reference/reference-runner.js';
import { SMALL_TOKENIZER, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './generate.js';
import { scoreSequences } from './score.js';

let tokenizer: Tokenizer;
let config: DecoderConfig;
let weights: WeightMap;

beforeAll(async () => {
  tokenizer = await loadTokenizer(SMALL_TOKENIZER);
  config = { ...tinyQwen2(tokenizer.vocabSize), eosTokenIds: [...tokenizer.eosTokenIds] };
  // std 0.5 so the random model has peaked, prompt-dependent distributions
  weights = initWeights(config, createRng(11), 0.5);
});

/** Greedy decoding of one sequence by repeated full forwards: the plain reference loop. */
function referenceGreedy(prompt: number[], steps: number): number[] {
  const tokens = [...prompt];
  for (let s = 0; s < steps; s++) {
    const { logits, length, vocabSize } = referenceForward(config, weights, tokens);
    let best = 0;
    for (let v = 1; v < vocabSize; v++)
      if (logits[(length - 1) * vocabSize + v]! > logits[(length - 1) * vocabSize + best]!) best = v;
    tokens.push(best);
  }
  return tokens.slice(prompt.length);
}

describe('generate on a random tiny model', () => {
  it('greedy, batched with left padding, equals the one-sequence reference loop; log-probs match', async () => {
    const runner = new ReferenceDecoderRunner(config, weights);
    const prompts = ['The capital of France is', 'Who', '<search> moon landing </search>'];
    const results = await generate(runner, tokenizer, prompts, {
      maxNewTokens: 6,
      temperature: 0,
      eosTokenIds: [],
    });
    for (const [index, result] of results.entries()) {
      const promptIds = tokenizer.encode(prompts[index]!);
      expect(result.promptTokenIds).toEqual(promptIds);
      expect(result.tokenIds).toEqual(referenceGreedy(promptIds, 6));
      expect(result.finishReason).toBe('length');
      expect(result.text).toBe(tokenizer.decode(result.tokenIds));
      const { logprobs } = referenceLogProbs(config, weights, [...promptIds, ...result.tokenIds]);
      result.logprobs.forEach((logprob, i) => {
        expect(logprob).toBeCloseTo(logprobs[promptIds.length + i]!, 4);
      });
    }
  });

  it('sampling is reproducible from the seed and accepts token-id prompts', async () => {
    const runner = new ReferenceDecoderRunner(config, weights);
    const prompt = tokenizer.encode('Question: who wrote it?');
    const options = { maxNewTokens: 5, temperature: 1, topP: 0.9, topK: 50, eosTokenIds: [] };
    const a = await generate(runner, tokenizer, [prompt, prompt], { ...options, seed: 1 });
    const b = await generate(runner, tokenizer, [prompt, prompt], { ...options, seed: 1 });
    const c = await generate(runner, tokenizer, [prompt, prompt], { ...options, seed: 2 });
    expect(a).toEqual(b);
    expect(a.map((r) => r.tokenIds)).not.toEqual(c.map((r) => r.tokenIds));
    // log-probs are under softmax(logits / T) of the full vocabulary (before top-k/top-p)
    const { logprobs } = referenceLogProbs(config, weights, [...prompt, ...a[0]!.tokenIds]);
    a[0]!.logprobs.forEach((logprob, i) => {
      expect(logprob).toBeCloseTo(logprobs[prompt.length + i]!, 4);
    });
  });
});

describe('scoreSequences', () => {
  it('matches the reference log-probs and entropies, batched with padding', async () => {
    const runner = new ReferenceDecoderRunner(config, weights);
    const sequences = [tokenizer.encode('Paris is the capital of France.'), tokenizer.encode('Hi'), [5]];
    const scored = await scoreSequences(runner, sequences, { batchSize: 2 });
    expect(runner.stats.prefillCalls).toBe(2);
    for (const [index, sequence] of sequences.entries()) {
      const reference = referenceLogProbs(config, weights, sequence);
      expect(scored[index]!.tokenIds).toEqual(sequence);
      expect(scored[index]!.logprobs[0]).toBeNull();
      for (let i = 1; i < sequence.length; i++) {
        expect(scored[index]!.logprobs[i]!).toBeCloseTo(reference.logprobs[i]!, 4);
        expect(scored[index]!.entropies[i]!).toBeCloseTo(reference.entropies[i - 1]!, 4);
      }
    }
  });
});

/**
 * A test double for the loop itself: each row's "model" puts all its mass on the next token of a
 * script (chosen by the row's first prompt token), so stop handling can be checked exactly.
 */
class ScriptedRunner implements DecoderRunner {
  decodedRows = 0;
  constructor(
    readonly config: DecoderConfig,
    private readonly scripts: Map<number, number[]>,
  ) {}
  private logitsFor(rows: { first: number; produced: number }[]): Float32Array {
    const V = this.config.vocabSize;
    const logits = new Float32Array(rows.length * V);
    rows.forEach((row, b) => {
      const script = this.scripts.get(row.first)!;
      logits[b * V + script[Math.min(row.produced, script.length - 1)]!] = 30;
    });
    return logits;
  }
  async prefill(inputs: ForwardInputs): Promise<ForwardOutputs> {
    const rows = Array.from({ length: inputs.batchSize }, (_, b) => {
      let first = -1;
      for (let j = 0; j < inputs.newLength; j++) {
        if (first < 0 && inputs.attentionMask[b * inputs.newLength + j] === 1n)
          first = Number(inputs.inputIds[b * inputs.newLength + j]);
      }
      return { first, produced: 0 };
    });
    return {
      logits: this.logitsFor(rows),
      cache: { length: inputs.newLength, batchSize: inputs.batchSize, handles: rows },
    };
  }
  async decode(inputs: ForwardInputs, cache: KvCache): Promise<ForwardOutputs> {
    this.decodedRows += inputs.batchSize;
    const rows = (cache.handles as { first: number; produced: number }[]).map((r) => ({
      ...r,
      produced: r.produced + 1,
    }));
    return {
      logits: this.logitsFor(rows),
      cache: { length: cache.length + 1, batchSize: rows.length, handles: rows },
    };
  }
  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const handles = cache.handles as { first: number; produced: number }[];
    return { length: cache.length, batchSize: rows.length, handles: rows.map((r) => handles[r]!) };
  }
  async dispose(): Promise<void> {}
}

describe('generate stopping', () => {
  it('stops on stop strings whatever their tokenisation, on EOS, and at the length limit; finished rows leave the batch', async () => {
    const eos = tokenizer.eosTokenIds[0]!;
    // '>\n\n' is one token in the small tokenizer: it completes '</search>' and overshoots it
    const searchScript = tokenizer.encode(' moon landing </search>\n\nmore text');
    const answerScript = tokenizer.encode(' Paris </answer> and on');
    const eosScript = [...tokenizer.encode(' done'), eos, ...tokenizer.encode(' after')];
    const longScript = tokenizer.encode(' a b c d e f g h i j k l m n o p q r s t u v w x y z');
    const scripts = new Map([
      [10, searchScript],
      [11, answerScript],
      [12, eosScript],
      [13, longScript],
    ]);
    const runner = new ScriptedRunner(config, scripts);
    const results = await generate(runner, tokenizer, [[10], [11, 1, 2], [12], [13, 5]], {
      maxNewTokens: 12,
      temperature: 0,
      stop: ['</search>', '</answer>'],
    });
    const [search, answer, withEos, long] = results;
    expect(search).toMatchObject({
      finishReason: 'stop',
      stopString: '</search>',
      text: ' moon landing </search>\n\n',
    });
    expect(search!.tokenIds).toEqual(searchScript.slice(0, search!.tokenIds.length));
    expect(tokenizer.decode(search!.tokenIds.slice(0, -1))).not.toContain('</search>');
    expect(answer).toMatchObject({ finishReason: 'stop', stopString: '</answer>' });
    expect(answer!.text.endsWith('</answer>')).toBe(true);
    expect(withEos).toMatchObject({ finishReason: 'eos', text: ' done' });
    expect(withEos!.tokenIds[withEos!.tokenIds.length - 1]).toBe(eos);
    expect(long).toMatchObject({ finishReason: 'length' });
    expect(long!.tokenIds).toHaveLength(12);
    expect(long!.logprobs.every((logprob) => logprob > -1e-6 && logprob <= 0)).toBe(true);
    // rows leave the decode batch as they finish: far fewer than 4 rows × 11 steps were decoded
    const decodedIfNoneLeft = 4 * 11;
    expect(runner.decodedRows).toBeLessThan(decodedIfNoneLeft);
    expect(runner.decodedRows).toBe(
      search!.tokenIds.length - 1 + answer!.tokenIds.length - 1 + withEos!.tokenIds.length - 1 + 11,
    );
  });

  it('reports the stop string that matches earliest in the text, whatever its place in the list', async () => {
    // '>\n\n' is one token: it completes both stop strings at once, and '</search>' starts first
    const script = tokenizer.encode(' moon landing </search>\n\nmore text');
    const runner = new ScriptedRunner(config, new Map([[10, script]]));
    const [result] = await generate(runner, tokenizer, [[10]], {
      maxNewTokens: 12,
      temperature: 0,
      stop: ['>\n\n', '</search>'],
    });
    expect(result).toMatchObject({ finishReason: 'stop', stopString: '</search>' });
  });

  it('stops a row whose sequence signal aborts and drops it from the batch; the others go on', async () => {
    const long = tokenizer.encode(' a b c d e f g h i j k l m n o p q r s t u v w x y z');
    const runner = new ScriptedRunner(config, new Map([[13, long]]));
    const left = new AbortController();
    const results = await generate(runner, tokenizer, [[13], [13]], {
      maxNewTokens: 12,
      temperature: 0,
      sequenceSignals: [left.signal, undefined],
      onToken: (sequence) => {
        if (sequence === 0 && !left.signal.aborted) left.abort(); // after its first token
      },
    });
    expect(results[0]!.tokenIds).toHaveLength(1);
    expect(results[1]!.tokenIds).toHaveLength(12);
    expect(runner.decodedRows).toBe(11); // only the row still wanted was decoded
  });

  it('rejects empty and out-of-vocabulary prompts naming the prompt', async () => {
    const runner = new ReferenceDecoderRunner(config, weights);
    await expect(generate(runner, tokenizer, [[]], { maxNewTokens: 1 })).rejects.toThrow(
      "field 'prompts[0]'",
    );
    await expect(generate(runner, tokenizer, ['ok', [1, 99999]], { maxNewTokens: 1 })).rejects.toThrow(
      "field 'prompts[1][1]'",
    );
  });
});
