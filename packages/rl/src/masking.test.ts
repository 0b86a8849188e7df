import { describe, expect, it } from 'vitest';
import {
  aggregateLoss,
  aggregationWeights,
  LOSS_AGGREGATIONS,
  maskedMean,
  maskedSum,
  maskedVar,
  maskedWhiten,
} from './masking.js';
import { matrixFromRows } from './matrix.js';
import { poisonMasked, randomMask, randomMatrix } from './testing/index.js';

const loss = matrixFromRows([
  [1, 2, 3, 4],
  [10, 20, 30, 40],
  [5, 6, 7, 8],
]);
const mask = matrixFromRows([
  [1, 1, 0, 0],
  [1, 1, 1, 1],
  [0, 0, 0, 0],
]);

describe('maskedMean / maskedSum / maskedVar', () => {
  it('match hand-computed values', () => {
    expect(maskedSum(loss, mask)).toBe(103);
    expect(maskedMean(loss, mask)).toBeCloseTo(103 / 6, 12);
    // values 1,2,10,20,30,40: mean 103/6, Σ(x−m)² / 5
    const mean = 103 / 6;
    const ss = [1, 2, 10, 20, 30, 40].reduce((s, x) => s + (x - mean) ** 2, 0);
    expect(maskedVar(loss, mask)).toBeCloseTo(ss / 5, 10);
    expect(maskedVar(loss, mask, { unbiased: false })).toBeCloseTo(ss / 6, 10);
  });

  it('is 0 for an empty mask, and an unbiased variance of one element is an error naming the mask', () => {
    const empty = matrixFromRows([[0, 0]]);
    expect(maskedMean(matrixFromRows([[3, 4]]), empty)).toBe(0);
    expect(() => maskedVar(matrixFromRows([[3, 4]]), matrixFromRows([[1, 0]]))).toThrow(
      /field 'mask'.*at least 2/,
    );
  });

  it('rejects shape mismatches and negative mask values with the field named', () => {
    expect(() => maskedMean(loss, matrixFromRows([[1, 0]]))).toThrow(/field 'mask'.*shape \(3, 4\)/);
    expect(() => maskedMean(matrixFromRows([[1]]), matrixFromRows([[-1]]))).toThrow(
      /mask values must be finite/,
    );
    expect(() =>
      maskedMean({ shape: [2, 2], data: [1, 2, 3] }, { shape: [2, 2], data: [1, 1, 1, 1] }),
    ).toThrow(/field 'values'.*needs 4 values, got 3/);
  });
});

describe('maskedWhiten', () => {
  it('gives zero mean and unit (unbiased) variance over the mask, and 0 outside it', () => {
    const values = randomMatrix(1, 4, 7, -3, 5);
    const m = randomMask(2, 4, 7);
    const white = { shape: values.shape, data: maskedWhiten(values, m) };
    expect(maskedMean(white, m)).toBeCloseTo(0, 10);
    expect(maskedVar(white, m)).toBeCloseTo(1, 6);
    m.data.forEach((keep, i) => {
      if (keep === 0) expect(white.data[i]).toBe(0);
    });
  });

  it('keeps the mean when shiftMean is false (veRL semantics)', () => {
    const values = matrixFromRows([[1, 2, 3, 100]]);
    const m = matrixFromRows([[1, 1, 1, 0]]);
    const out = maskedWhiten(values, m, { shiftMean: false });
    // mean 2, unbiased var 1 → (x − 2)/sqrt(1 + 1e-8) + 2
    const s = 1 / Math.sqrt(1 + 1e-8);
    expect(Array.from(out)).toEqual([-s + 2, 2, s + 2, 0]);
  });
});

describe('aggregateLoss', () => {
  it('token-mean: Σ mask·loss / Σ mask', () => {
    expect(aggregateLoss(loss, mask, 'token-mean')).toBeCloseTo(103 / 6, 12);
  });

  it('seq-mean-token-sum: mean over non-empty sequences of the masked row sums', () => {
    // rows: 1+2 = 3, 100, (empty row left out)
    expect(aggregateLoss(loss, mask, 'seq-mean-token-sum')).toBeCloseTo((3 + 100) / 2, 12);
  });

  it('seq-mean-token-mean: mean over non-empty sequences of the masked row means', () => {
    expect(aggregateLoss(loss, mask, 'seq-mean-token-mean')).toBeCloseTo((1.5 + 25) / 2, 12);
  });

  it('is 0 when nothing is masked in, in every mode', () => {
    const none = matrixFromRows([
      [0, 0],
      [0, 0],
    ]);
    for (const mode of LOSS_AGGREGATIONS)
      expect(
        aggregateLoss(
          matrixFromRows([
            [1, 2],
            [3, 4],
          ]),
          none,
          mode,
        ),
      ).toBe(0);
  });

  it('ignores whatever sits at masked positions, even NaN and Infinity', () => {
    const values = randomMatrix(3, 5, 9);
    const m = randomMask(4, 5, 9);
    const poisoned = poisonMasked(values, m);
    poisoned.data[m.data.indexOf(0)] = Number.POSITIVE_INFINITY;
    for (const mode of LOSS_AGGREGATIONS) {
      expect(aggregateLoss(poisoned, m, mode)).toBe(aggregateLoss(values, m, mode));
      expect(Number.isFinite(aggregateLoss(poisoned, m, mode))).toBe(true);
    }
  });

  it('weights are zero outside the mask and sum to 1 in the mean modes', () => {
    for (const mode of ['token-mean', 'seq-mean-token-mean'] as const) {
      const w = aggregationWeights(mask, mode);
      expect(w.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
      mask.data.forEach((keep, i) => {
        if (keep === 0) expect(w[i]).toBe(0);
      });
    }
  });

  it('names the valid modes when given an unknown one', () => {
    // biome-ignore lint/suspicious/noExplicitAny: testing the runtime check on a wrong name
    expect(() => aggregateLoss(loss, mask, 'mean' as any)).toThrow(
      "field 'aggregation': unknown loss aggregation mode 'mean'. Supported: [token-mean, seq-mean-token-sum, seq-mean-token-mean]",
    );
  });
});
