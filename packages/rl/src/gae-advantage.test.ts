import { describe, expect, it } from 'vitest';
import { computeGaeAdvantages } from './gae-advantage.js';
import { maskedWhiten } from './masking.js';
import { type Float64Matrix, matrixFromRows } from './matrix.js';
import { maxAbsDiff, randomMatrix } from './testing/index.js';

/**
 * veRL's `compute_gae_advantage_return` written plainly: the recursion runs over every column
 * (mask ignored), then advantages are whitened over the mask.
 */
function veRLGae(
  rewards: Float64Matrix,
  values: Float64Matrix,
  mask: Float64Matrix,
  gamma: number,
  lambda: number,
) {
  const [batch, length] = rewards.shape;
  const adv = new Float64Array(batch * length);
  const ret = new Float64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let last = 0;
    for (let t = length - 1; t >= 0; t--) {
      const next = t < length - 1 ? values.data[b * length + t + 1]! : 0;
      const delta = rewards.data[b * length + t]! + gamma * next - values.data[b * length + t]!;
      last = delta + gamma * lambda * last;
      adv[b * length + t] = last;
      ret[b * length + t] = last + values.data[b * length + t]!;
    }
  }
  return { advantages: maskedWhiten({ shape: [batch, length], data: adv }, mask), returns: ret };
}

describe('computeGaeAdvantages', () => {
  it('matches a hand-computed two-step example (γ = 0.9, λ = 0.5, no whitening)', () => {
    // r = [0, 1], V = [0.5, 0.2]
    // t=1: δ = 1 + 0 − 0.2 = 0.8, A = 0.8, R = 1.0
    // t=0: δ = 0 + 0.9·0.2 − 0.5 = −0.32, A = −0.32 + 0.45·0.8 = 0.04, R = 0.54
    const out = computeGaeAdvantages({
      tokenLevelRewards: matrixFromRows([[0, 1]]),
      values: matrixFromRows([[0.5, 0.2]]),
      tokenMask: matrixFromRows([[1, 1]]),
      gamma: 0.9,
      lambda: 0.5,
      whiten: false,
    });
    expect(out.advantages.data[0]).toBeCloseTo(0.04, 12);
    expect(out.advantages.data[1]).toBeCloseTo(0.8, 12);
    expect(out.returns.data[0]).toBeCloseTo(0.54, 12);
    expect(out.returns.data[1]).toBeCloseTo(1.0, 12);
  });

  it('with γ = λ = 1 the returns are the sums of future rewards (the paper setting)', () => {
    const out = computeGaeAdvantages({
      tokenLevelRewards: matrixFromRows([[0.1, 0, 0, 1]]),
      values: matrixFromRows([[0.3, -0.2, 0.7, 0.4]]),
      tokenMask: matrixFromRows([[1, 1, 1, 1]]),
    });
    expect(Array.from(out.returns.data)).toEqual([1.1, 1, 1, 1].map((x) => expect.closeTo(x, 12)));
  });

  it('agrees with the veRL formula on right-padded batches (padding values zeroed, as veRL does)', () => {
    const [batch, length] = [6, 11];
    const lengths = [11, 3, 7, 1, 9, 5];
    const mask = matrixFromRows(lengths.map((n) => Array.from({ length }, (_, t) => (t < n ? 1 : 0))));
    const rewards = randomMatrix(10, batch, length);
    const values = randomMatrix(11, batch, length);
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] === 0) {
        rewards.data[i] = 0;
        values.data[i] = 0;
      }
    }
    for (const [gamma, lambda] of [
      [1, 1],
      [0.99, 0.95],
      [0.5, 0],
    ] as const) {
      const ours = computeGaeAdvantages({
        tokenLevelRewards: rewards,
        values,
        tokenMask: mask,
        gamma,
        lambda,
      });
      const ref = veRLGae(rewards, values, mask, gamma, lambda);
      expect(maxAbsDiff(ours.advantages.data, ref.advantages)).toBeLessThan(1e-12);
      const refReturns = ref.returns.map((r, i) => (mask.data[i] === 0 ? 0 : r));
      expect(maxAbsDiff(ours.returns.data, refReturns)).toBeLessThan(1e-12);
    }
  });

  it('steps over masked positions in the middle: the same as GAE on the kept tokens alone', () => {
    // Tokens 2 and 3 are an inserted information block.
    const mask = matrixFromRows([[1, 1, 0, 0, 1, 1]]);
    const rewards = matrixFromRows([[0, 0.2, 99, 99, 0, 1]]);
    const values = matrixFromRows([[0.1, 0.4, -50, 50, 0.3, 0.6]]);
    const full = computeGaeAdvantages({
      tokenLevelRewards: rewards,
      values,
      tokenMask: mask,
      gamma: 0.9,
      lambda: 0.8,
    });
    const kept = computeGaeAdvantages({
      tokenLevelRewards: matrixFromRows([[0, 0.2, 0, 1]]),
      values: matrixFromRows([[0.1, 0.4, 0.3, 0.6]]),
      tokenMask: matrixFromRows([[1, 1, 1, 1]]),
      gamma: 0.9,
      lambda: 0.8,
    });
    const pick = (a: Float64Array) => [a[0], a[1], a[4], a[5]];
    expect(maxAbsDiff(pick(full.advantages.data) as number[], kept.advantages.data)).toBeLessThan(1e-12);
    expect(maxAbsDiff(pick(full.returns.data) as number[], kept.returns.data)).toBeLessThan(1e-12);
    expect([full.advantages.data[2], full.advantages.data[3], full.returns.data[2]]).toEqual([0, 0, 0]);
  });

  it('reports namespaced metrics over the mask and rejects bad γ', () => {
    const out = computeGaeAdvantages({
      tokenLevelRewards: matrixFromRows([[0, 1, 0]]),
      values: matrixFromRows([[0, 0, 7]]),
      tokenMask: matrixFromRows([[1, 1, 0]]),
      whiten: false,
    });
    expect(out.metrics['critic/values/max']).toBe(0);
    expect(out.metrics['critic/returns/mean']).toBe(1);
    expect(() =>
      computeGaeAdvantages({
        tokenLevelRewards: matrixFromRows([[0]]),
        values: matrixFromRows([[0]]),
        tokenMask: matrixFromRows([[1]]),
        gamma: 1.5,
      }),
    ).toThrow(/field 'gamma'/);
  });
});
