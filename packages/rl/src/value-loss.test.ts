import { describe, expect, it } from 'vitest';
import { LOSS_AGGREGATIONS } from './masking.js';
import { type Float64Matrix, matrixFromRows } from './matrix.js';
import { finiteDifference, maxAbsDiff, poisonMasked, randomMask, randomMatrix } from './testing/index.js';
import { clippedValueLoss } from './value-loss.js';

describe('clippedValueLoss', () => {
  it('matches hand-computed values', () => {
    // old 0, clip 0.5, return 1:
    //  V = 2   → clipped 0.5: max((1)², (−0.5)²) = 1 → ½, unclipped, grad (2 − 1)
    //  V = −1  → clipped −0.5: max(4, 2.25) = 4 → 2, unclipped, grad (−1 − 1)
    //  V = 0.2 → inside: 0.64 → 0.32, grad −0.8
    //  V = 1.5 with return −1 → clipped 0.5: max(6.25, 2.25) → 3.125
    //  V = −2, old 0, return −2.5 → clipped −0.5: max(0.25, 4) = 4 → 2 (clipped branch), grad 0
    const out = clippedValueLoss({
      values: matrixFromRows([[2, -1, 0.2, 1.5, -2]]),
      oldValues: matrixFromRows([[0, 0, 0, 0, 0]]),
      returns: matrixFromRows([[1, 1, 1, -1, -2.5]]),
      tokenMask: matrixFromRows([[1, 1, 1, 1, 1]]),
    });
    expect(out.loss).toBeCloseTo((0.5 + 2 + 0.32 + 3.125 + 2) / 5, 12);
    [1, -2, -0.8, 2.5, 0].forEach((g, i) => {
      expect(out.gradValues.data[i]).toBeCloseTo(g / 5, 12);
    });
    expect(out.metrics['critic/vf_clipfrac']).toBeCloseTo(1 / 5, 12);
  });

  it('gradient matches finite differences; masked positions contribute nothing', () => {
    const [b, t] = [4, 7];
    const values = randomMatrix(51, b, t, -2, 2);
    const old = randomMatrix(52, b, t, -2, 2);
    const returns = randomMatrix(53, b, t, -2, 2);
    const mask = randomMask(54, b, t);
    for (const aggregation of LOSS_AGGREGATIONS) {
      const run = (v: Float64Matrix) =>
        clippedValueLoss({
          values: v,
          oldValues: old,
          returns,
          tokenMask: mask,
          clipRange: 0.3,
          aggregation,
        });
      const out = run(values);
      expect(
        maxAbsDiff(
          out.gradValues.data,
          finiteDifference(values, (v) => run(v).loss),
        ),
      ).toBeLessThan(1e-7);
      const dirty = clippedValueLoss({
        values: poisonMasked(values, mask),
        oldValues: poisonMasked(old, mask),
        returns: poisonMasked(returns, mask),
        tokenMask: mask,
        clipRange: 0.3,
        aggregation,
      });
      expect(dirty.loss).toBe(out.loss);
      expect(Array.from(dirty.gradValues.data)).toEqual(Array.from(out.gradValues.data));
    }
  });
});
