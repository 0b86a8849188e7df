import { describe, expect, it } from 'vitest';
import { computeGrpoAdvantages, computeRlooAdvantages } from './group-advantage.js';
import { matrixFromRows } from './matrix.js';

const mask = matrixFromRows([
  [1, 1, 0],
  [1, 0, 0],
  [1, 1, 1],
  [1, 1, 0],
  [0, 0, 0],
]);

describe('computeGrpoAdvantages', () => {
  it('normalises within groups keyed by prompt id (unbiased std, ε = 1e-6), interleaved ids included', () => {
    const scores = [1, 5, 0, 0, 3];
    const promptIds = ['nq-1', 'hotpot-1', 'nq-1', 'nq-1', 'hotpot-1'];
    const out = computeGrpoAdvantages({ scores, promptIds, tokenMask: mask });
    // nq-1: [1, 0, 0] mean 1/3, std sqrt(((2/3)² + 2(1/3)²)/2) = sqrt(1/3)
    const s1 = Math.sqrt(1 / 3);
    // hotpot-1: [5, 3] mean 4, std sqrt(2)
    const s2 = Math.sqrt(2);
    const expected = [
      (1 - 1 / 3) / (s1 + 1e-6),
      (5 - 4) / (s2 + 1e-6),
      -1 / 3 / (s1 + 1e-6),
      -1 / 3 / (s1 + 1e-6),
      -1 / (s2 + 1e-6),
    ];
    expected.forEach((a, i) => {
      expect(out.sequenceAdvantages[i]).toBeCloseTo(a, 12);
    });
    // broadcast over the mask only
    expect(out.advantages.data[0]).toBeCloseTo(expected[0]!, 12);
    expect(out.advantages.data[1]).toBeCloseTo(expected[0]!, 12);
    expect(out.advantages.data[2]).toBe(0);
    expect(Array.from(out.advantages.data.subarray(12, 15))).toEqual([0, 0, 0]);
    expect(Array.from(out.returns.data)).toEqual(Array.from(out.advantages.data));
    expect(out.metrics['grpo/groups']).toBe(2);
  });

  it('does not merge groups whose prompts share a dataset index (the reference bug)', () => {
    // Same per-dataset index "0" from two datasets: unique ids keep them apart.
    const out = computeGrpoAdvantages({
      scores: [1, 0, 1, 1],
      promptIds: ['nq/0', 'nq/0', 'hotpotqa/0', 'hotpotqa/0'],
      tokenMask: matrixFromRows([[1], [1], [1], [1]]),
    });
    // hotpotqa/0 scored [1, 1]: zero std → advantage 0, not pulled by the nq group.
    expect(out.sequenceAdvantages[2]).toBe(0);
    expect(out.sequenceAdvantages[3]).toBe(0);
    expect(out.sequenceAdvantages[0]).toBeCloseTo(0.5 / (Math.SQRT1_2 + 1e-6), 12);
    expect(out.metrics['grpo/zero_std_groups']).toBe(1);
  });

  it('keeps the raw score of a singleton group (mean 0, std 1), as veRL', () => {
    const out = computeGrpoAdvantages({
      scores: [0.7],
      promptIds: ['q'],
      tokenMask: matrixFromRows([[1, 1]]),
    });
    expect(out.sequenceAdvantages[0]).toBeCloseTo(0.7 / (1 + 1e-6), 12);
    expect(out.metrics['grpo/singleton_groups']).toBe(1);
  });

  it('without std division (Dr.GRPO) subtracts the group mean only', () => {
    const out = computeGrpoAdvantages({
      scores: [1, 0, 0, 1],
      promptIds: ['a', 'a', 'a', 'a'],
      tokenMask: matrixFromRows([[1], [1], [1], [1]]),
      normalizeByStd: false,
    });
    expect(Array.from(out.sequenceAdvantages)).toEqual([0.5, -0.5, -0.5, 0.5]);
  });

  it('rejects mismatched lengths and non-string ids with the field named', () => {
    expect(() =>
      computeGrpoAdvantages({ scores: [1, 2], promptIds: ['a'], tokenMask: matrixFromRows([[1], [1]]) }),
    ).toThrow(/field 'promptIds': expected 2 prompt ids/);
    expect(() =>
      // biome-ignore lint/suspicious/noExplicitAny: testing the runtime check on a wrong type
      computeGrpoAdvantages({ scores: [1], promptIds: [7 as any], tokenMask: matrixFromRows([[1]]) }),
    ).toThrow(/field 'promptIds\[0\]'/);
    expect(() =>
      computeGrpoAdvantages({ scores: [Number.NaN], promptIds: ['a'], tokenMask: matrixFromRows([[1]]) }),
    ).toThrow(/field 'scores\[0\]'/);
  });
});

describe('computeRlooAdvantages', () => {
  it('uses the mean of the other responses as the baseline', () => {
    const out = computeRlooAdvantages({
      scores: [1, 0, 0, 2, 4],
      promptIds: ['a', 'a', 'a', 'b', 'b'],
      tokenMask: matrixFromRows([[1], [1], [1], [1], [1]]),
    });
    // a: 1 − 0 = 1, 0 − 0.5 = −0.5, −0.5; b: 2 − 4 = −2, 4 − 2 = 2
    expect(Array.from(out.sequenceAdvantages)).toEqual([1, -0.5, -0.5, -2, 2]);
    // veRL's form: r·n/(n−1) − mean·n/(n−1)
    const n = 3;
    const mean = 1 / 3;
    expect(out.sequenceAdvantages[1]).toBeCloseTo((0 * n) / (n - 1) - (mean * n) / (n - 1), 12);
  });

  it('keeps the raw score of a singleton group and zeroes masked tokens', () => {
    const out = computeRlooAdvantages({
      scores: [3],
      promptIds: ['x'],
      tokenMask: matrixFromRows([[1, 0, 1]]),
    });
    expect(Array.from(out.advantages.data)).toEqual([3, 0, 3]);
  });
});
