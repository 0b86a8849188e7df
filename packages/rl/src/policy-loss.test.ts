import { describe, expect, it } from 'vitest';
import { aggregateLoss, LOSS_AGGREGATIONS, maskedMean } from './masking.js';
import { type Float64Matrix, matrixFromRows } from './matrix.js';
import { ppoPolicyLoss } from './policy-loss.js';
import { finiteDifference, maxAbsDiff, poisonMasked, randomMask, randomMatrix } from './testing/index.js';

/** veRL's `compute_policy_loss` with dual clip, written plainly from its formulas. */
function veRLPolicyLoss(
  logProbs: Float64Matrix,
  old: Float64Matrix,
  adv: Float64Matrix,
  mask: Float64Matrix,
  clip: number,
  c: number | null,
) {
  const n = logProbs.data.length;
  const losses = new Float64Array(n);
  const clipfrac = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ratio = Math.exp(logProbs.data[i]! - old.data[i]!);
    const a = adv.data[i]!;
    const l1 = -a * ratio;
    const l2 = -a * Math.min(Math.max(ratio, 1 - clip), 1 + clip);
    let l = Math.max(l1, l2);
    clipfrac[i] = l2 > l1 ? 1 : 0;
    if (c !== null && a < 0) l = Math.min(l, -a * c);
    losses[i] = l;
  }
  return {
    losses: { shape: logProbs.shape, data: losses },
    clipfrac: maskedMean({ shape: mask.shape, data: clipfrac }, mask),
  };
}

describe('ppoPolicyLoss', () => {
  it('matches hand-computed values for each clipping case', () => {
    const l = Math.log;
    // ratios 1.5 (A>0: clipped at 1.2), 0.5 (A>0: unclipped, ratio below range), 1.5 (A<0: unclipped),
    // 0.5 (A<0: clipped at 0.8), 1.1 (inside the range)
    const out = ppoPolicyLoss({
      logProbs: matrixFromRows([[l(1.5), l(0.5), l(1.5), l(0.5), l(1.1)]]),
      oldLogProbs: matrixFromRows([[0, 0, 0, 0, 0]]),
      advantages: matrixFromRows([[1, 1, -1, -1, 2]]),
      sampledMask: matrixFromRows([[1, 1, 1, 1, 1]]),
    });
    const perToken = [-1.2, -0.5, 1.5, 0.8, -2.2];
    perToken.forEach((v, i) => {
      expect(out.lossMatrix.data[i]).toBeCloseTo(v, 12);
    });
    expect(out.loss).toBeCloseTo(perToken.reduce((s, x) => s + x, 0) / 5, 12);
    expect(out.metrics['actor/pg_clipfrac']).toBeCloseTo(2 / 5, 12);
    // gradient: (−A·r)/5 where unclipped, 0 where clipped
    const grad = [0, -0.5 / 5, 1.5 / 5, 0, -2.2 / 5];
    grad.forEach((g, i) => {
      expect(out.gradLogProbs.data[i]).toBeCloseTo(g, 12);
    });
    expect(out.metrics['actor/ppo_kl']).toBeCloseTo(-(l(1.5) + l(0.5) + l(1.5) + l(0.5) + l(1.1)) / 5, 12);
  });

  it('dual clip bounds the loss of negative advantages by −A·c', () => {
    // ratio 5 with A = −1: clipped loss max(5, 1.2) = 5 > c = 3 → 3, gradient 0
    const out = ppoPolicyLoss({
      logProbs: matrixFromRows([[Math.log(5), Math.log(5)]]),
      oldLogProbs: matrixFromRows([[0, 0]]),
      advantages: matrixFromRows([[-1, 1]]),
      sampledMask: matrixFromRows([[1, 1]]),
      dualClip: true,
    });
    expect(out.lossMatrix.data[0]).toBeCloseTo(3, 12);
    expect(out.lossMatrix.data[1]).toBeCloseTo(-1.2, 12); // positive advantage: no dual clip
    expect(Array.from(out.gradLogProbs.data)).toEqual([0, 0]);
    expect(out.metrics['actor/pg_clipfrac_lower']).toBe(0.5);
    expect(() =>
      ppoPolicyLoss({
        ...{ logProbs: matrixFromRows([[0]]), oldLogProbs: matrixFromRows([[0]]) },
        advantages: matrixFromRows([[1]]),
        sampledMask: matrixFromRows([[1]]),
        dualClip: true,
        dualClipC: 1,
      }),
    ).toThrow(/field 'dualClipC'/);
  });

  it('agrees with the veRL formulas on random batches, with and without dual clip, in every aggregation', () => {
    const [b, t] = [5, 13];
    const logProbs = randomMatrix(21, b, t, -3, 0);
    const old = { shape: logProbs.shape, data: logProbs.data.map((x, i) => x + 0.6 * Math.sin(i * 1.7)) };
    const adv = randomMatrix(22, b, t, -2, 2);
    const mask = randomMask(23, b, t);
    for (const c of [null, 3]) {
      const ref = veRLPolicyLoss(logProbs, old, adv, mask, 0.2, c);
      for (const aggregation of LOSS_AGGREGATIONS) {
        const out = ppoPolicyLoss({
          logProbs,
          oldLogProbs: old,
          advantages: adv,
          sampledMask: mask,
          dualClip: c !== null,
          aggregation,
        });
        expect(out.loss).toBeCloseTo(aggregateLoss(ref.losses, mask, aggregation), 12);
        expect(out.metrics['actor/pg_clipfrac']).toBeCloseTo(ref.clipfrac, 12);
      }
    }
  });

  it('gradient matches finite differences of the loss, and is 0 at masked positions', () => {
    const [b, t] = [4, 9];
    const logProbs = randomMatrix(31, b, t, -2, 0);
    const old = randomMatrix(32, b, t, -2, 0);
    const adv = randomMatrix(33, b, t, -1.5, 1.5);
    const mask = randomMask(34, b, t);
    for (const aggregation of LOSS_AGGREGATIONS) {
      for (const dualClip of [false, true]) {
        const run = (lp: Float64Matrix) =>
          ppoPolicyLoss({
            logProbs: lp,
            oldLogProbs: old,
            advantages: adv,
            sampledMask: mask,
            aggregation,
            dualClip,
            dualClipC: 1.5,
          });
        const out = run(logProbs);
        const numeric = finiteDifference(logProbs, (lp) => run(lp).loss);
        expect(maxAbsDiff(out.gradLogProbs.data, numeric)).toBeLessThan(1e-7);
        mask.data.forEach((keep, i) => {
          if (keep === 0) expect(out.gradLogProbs.data[i]).toBe(0);
        });
      }
    }
  });

  it('masked positions contribute nothing, even when they hold NaN', () => {
    const [b, t] = [3, 8];
    const logProbs = randomMatrix(41, b, t, -2, 0);
    const old = randomMatrix(42, b, t, -2, 0);
    const adv = randomMatrix(43, b, t);
    const mask = randomMask(44, b, t, 0.5);
    const clean = ppoPolicyLoss({ logProbs, oldLogProbs: old, advantages: adv, sampledMask: mask });
    const dirty = ppoPolicyLoss({
      logProbs: poisonMasked(logProbs, mask),
      oldLogProbs: poisonMasked(old, mask),
      advantages: poisonMasked(adv, mask),
      sampledMask: mask,
    });
    expect(dirty.loss).toBe(clean.loss);
    expect(Array.from(dirty.gradLogProbs.data)).toEqual(Array.from(clean.gradLogProbs.data));
    expect(dirty.metrics).toEqual(clean.metrics);
  });
});
