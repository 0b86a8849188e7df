import { describe, expect, it } from 'vitest';
import { applyKlPenalty, type KlEstimator, klLoss, klPenalty } from './kl.js';
import { LOSS_AGGREGATIONS } from './masking.js';
import { type Float64Matrix, matrixFromRows } from './matrix.js';
import { finiteDifference, maxAbsDiff, poisonMasked, randomMask, randomMatrix } from './testing/index.js';

const logProbs = matrixFromRows([[-1, -2, -0.5, -30]]);
const refLogProbs = matrixFromRows([[-1.5, -1, -0.5, -1]]);
const all = matrixFromRows([[1, 1, 1, 1]]);

describe('klPenalty', () => {
  it('k1, k2, k3 and abs match their definitions (x = log π − log π_ref)', () => {
    const xs = [0.5, -1, 0, -29];
    const k1 = klPenalty({ logProbs, refLogProbs, sampledMask: all }, 'k1');
    const k2 = klPenalty({ logProbs, refLogProbs, sampledMask: all }, 'mse');
    const k3 = klPenalty({ logProbs, refLogProbs, sampledMask: all }, 'low_var_kl');
    const abs = klPenalty({ logProbs, refLogProbs, sampledMask: all }, 'abs');
    xs.forEach((x, i) => {
      expect(k1.data[i]).toBeCloseTo(x, 12);
      expect(k2.data[i]).toBeCloseTo(0.5 * x * x, 12);
      expect(abs.data[i]).toBeCloseTo(Math.abs(x), 12);
    });
    // k3 = e^{ref − logp} − (ref − logp) − 1
    expect(k3.data[0]).toBeCloseTo(Math.exp(-0.5) + 0.5 - 1, 12);
    expect(k3.data[1]).toBeCloseTo(Math.exp(1) - 1 - 1, 12);
    expect(k3.data[2]).toBe(0);
    expect(k3.data[3]).toBe(10); // e^29 − 30: clamped to 10 as veRL
  });

  it('is 0 at masked positions and names the valid estimators for an unknown one', () => {
    const out = klPenalty({ logProbs, refLogProbs, sampledMask: matrixFromRows([[1, 0, 1, 0]]) }, 'k1');
    expect(Array.from(out.data)).toEqual([0.5, 0, 0, 0]);
    expect(() => klPenalty({ logProbs, refLogProbs, sampledMask: all }, 'k4' as KlEstimator)).toThrow(
      /unknown KL estimator 'k4'. Supported: \[k1, k2, k3, kl, mse, low_var_kl, abs\]/,
    );
  });
});

describe('applyKlPenalty', () => {
  it('subtracts β·KL per token and reports the per-sequence-then-batch mean KL', () => {
    const out = applyKlPenalty({
      tokenLevelScores: matrixFromRows([
        [0, 0, 1],
        [0, 2, 0],
      ]),
      logProbs: matrixFromRows([
        [-1, -1, -1],
        [-1, -1, -1],
      ]),
      refLogProbs: matrixFromRows([
        [-2, -1.5, -1],
        [-1.25, -9, -9],
      ]),
      sampledMask: matrixFromRows([
        [1, 1, 1],
        [1, 1, 0],
      ]),
      klCoef: 0.1,
    });
    expect(Array.from(out.tokenLevelRewards.data)).toEqual(
      [-0.1, -0.05, 1, -0.025, 2 - 0.8, 0].map((x) => expect.closeTo(x, 12)),
    );
    // row means: (1 + 0.5 + 0)/3 = 0.5, (0.25 + 8)/2 = 4.125 → 2.3125
    expect(out.metrics['critic/kl']).toBeCloseTo(2.3125, 12);
    expect(out.metrics['critic/kl_coeff']).toBe(0.1);
  });
});

describe('klLoss', () => {
  it('gradient matches finite differences for every estimator and aggregation; 0 where masked', () => {
    const [b, t] = [3, 8];
    const lp = randomMatrix(61, b, t, -3, 0);
    const ref = randomMatrix(62, b, t, -3, 0);
    const mask = randomMask(63, b, t);
    for (const estimator of ['k1', 'k2', 'k3', 'abs'] as const) {
      for (const aggregation of LOSS_AGGREGATIONS) {
        const run = (x: Float64Matrix) =>
          klLoss({ logProbs: x, refLogProbs: ref, sampledMask: mask, estimator, aggregation });
        const out = run(lp);
        expect(
          maxAbsDiff(
            out.gradLogProbs.data,
            finiteDifference(lp, (x) => run(x).loss),
          ),
        ).toBeLessThan(1e-7);
        mask.data.forEach((keep, i) => {
          if (keep === 0) expect(out.gradLogProbs.data[i]).toBe(0);
        });
        const dirty = klLoss({
          logProbs: poisonMasked(lp, mask),
          refLogProbs: poisonMasked(ref, mask),
          sampledMask: mask,
          estimator,
          aggregation,
        });
        expect(dirty.loss).toBe(out.loss);
      }
    }
  });

  it('k3 has zero gradient where it is clamped', () => {
    const out = klLoss({
      logProbs: matrixFromRows([[-30, -1]]),
      refLogProbs: matrixFromRows([[-1, -1]]),
      sampledMask: matrixFromRows([[1, 1]]),
    });
    expect(out.loss).toBeCloseTo(5, 12);
    expect(Array.from(out.gradLogProbs.data)).toEqual([0, 0]);
  });
});
