import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import {
  logProbAndEntropy,
  logSoftmaxAt,
  sampleToken,
  samplingParams,
  validateSamplingParams,
} from './sampling.js';

const logits = new Float32Array([2, 1, 0.5, -1, 3, 3]);

function softmax(values: Float32Array, temperature = 1): number[] {
  const max = Math.max(...values);
  const exps = [...values].map((v) => Math.exp((v - max) / temperature));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe('sampleToken', () => {
  it('greedy takes the first maximum and reports its temperature-1 log-prob', () => {
    const token = sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, createRng(0));
    expect(token.tokenId).toBe(4);
    expect(token.logprob).toBeCloseTo(Math.log(softmax(logits)[4]!), 12);
  });

  it('samples with the frequencies of softmax(logits / T), seeded', () => {
    const rng = createRng(42);
    const counts = new Array(6).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++)
      counts[sampleToken(logits, { temperature: 2, topK: 0, topP: 1 }, rng).tokenId]++;
    const probs = softmax(logits, 2);
    for (let j = 0; j < 6; j++) expect(Math.abs(counts[j] / n - probs[j]!)).toBeLessThan(0.015);
    const again = createRng(42);
    const first = sampleToken(logits, { temperature: 2, topK: 0, topP: 1 }, again);
    expect(first.tokenId).toBe(
      sampleToken(logits, { temperature: 2, topK: 0, topP: 1 }, createRng(42)).tokenId,
    );
  });

  it('top-k and top-p keep only the head, but the log-prob is before truncation', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const token = sampleToken(logits, { temperature: 1, topK: 3, topP: 1 }, rng);
      seen.add(token.tokenId);
      expect(token.logprob).toBeCloseTo(Math.log(softmax(logits)[token.tokenId]!), 10);
    }
    expect([...seen].sort()).toEqual([0, 4, 5]);
    // probs ≈ [.17, .06, .04, .01, .36, .36]: top-p 0.5 needs both 3s; 0.8 adds the 2
    const headOf = (topP: number) => {
      const ids = new Set<number>();
      for (let i = 0; i < 500; i++)
        ids.add(sampleToken(logits, { temperature: 1, topK: 0, topP }, rng).tokenId);
      return [...ids].sort();
    };
    expect(headOf(0.5)).toEqual([4, 5]);
    expect(headOf(0.8)).toEqual([0, 4, 5]);
    expect(headOf(0.1)).toEqual([4]);
  });

  it('samples exactly what a plain full-sort implementation samples (large vocab, flat and peaked rows)', () => {
    /** HF order (temperature, top-k, top-p) with a full sort of the vocabulary: the obvious implementation. */
    const naive = (
      row: Float32Array,
      params: { temperature: number; topK: number; topP: number },
      u: number,
    ) => {
      const max = Math.max(...row);
      const weights = [...row].map((v) => Math.exp((v - max) / params.temperature));
      let ids = weights.map((_, i) => i).sort((a, b) => weights[b]! - weights[a]! || a - b);
      if (params.topK > 0) ids = ids.slice(0, params.topK);
      if (params.topP < 1) {
        const mass = ids.reduce((acc, id) => acc + weights[id]!, 0);
        let cumulative = 0;
        let keep = 0;
        while (keep < ids.length) {
          cumulative += weights[ids[keep]!]!;
          keep++;
          if (cumulative >= params.topP * mass) break;
        }
        ids = ids.slice(0, keep);
      }
      ids.sort((a, b) => a - b); // survivors are walked in id order
      let target = u * ids.reduce((acc, id) => acc + weights[id]!, 0);
      for (const id of ids) {
        target -= weights[id]!;
        if (target < 0) return id;
      }
      return ids[ids.length - 1]!;
    };
    const rng = createRng(8);
    for (const scale of [0.5, 3, 12]) {
      const row = Float32Array.from({ length: 5000 }, () => rng.normal() * scale);
      for (const params of [
        { temperature: 1, topK: 0, topP: 0.9 },
        { temperature: 0.7, topK: 40, topP: 1 },
        { temperature: 1.3, topK: 100, topP: 0.5 },
        { temperature: 1, topK: 0, topP: 0.999 },
      ]) {
        for (let trial = 0; trial < 5; trial++) {
          const seed = rng.int(1_000_000);
          const u = createRng(seed).next();
          expect(sampleToken(row, params, createRng(seed)).tokenId).toBe(naive(row, params, u));
        }
      }
    }
  });

  it('validates parameters naming the field', () => {
    expect(() => validateSamplingParams({ temperature: -1, topK: 0, topP: 1 })).toThrow(
      "field 'sampling.temperature'",
    );
    expect(() => validateSamplingParams({ temperature: 1, topK: 1.5, topP: 1 })).toThrow(
      "field 'sampling.topK'",
    );
    expect(() => validateSamplingParams({ temperature: 1, topK: 0, topP: 0 })).toThrow(
      "field 'sampling.topP'",
    );
  });
});

describe('samplingParams', () => {
  it('fills the defaults of GenerateOptions and TurnOptions (temperature 1, top-k and top-p off) and validates', () => {
    expect(samplingParams({}, 'turn')).toEqual({ temperature: 1, topK: 0, topP: 1 });
    expect(samplingParams({ temperature: 0, topK: 5, topP: 0.9 }, 'turn')).toEqual({
      temperature: 0,
      topK: 5,
      topP: 0.9,
    });
    expect(() => samplingParams({ topP: 1.5 }, 'generate')).toThrow("field 'generate.topP'");
  });
});

describe('log-softmax and entropy', () => {
  it('match the direct formulas', () => {
    const probs = softmax(logits, 0.7);
    const entropy = -probs.reduce((acc, p) => acc + p * Math.log(p), 0);
    const result = logProbAndEntropy(logits, 2, 0.7);
    expect(result.logprob).toBeCloseTo(Math.log(probs[2]!), 12);
    expect(result.entropy).toBeCloseTo(entropy, 12);
    expect(logSoftmaxAt(logits, 2, 0.7)).toBeCloseTo(Math.log(probs[2]!), 12);
  });
});
