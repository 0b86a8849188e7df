import { describe, expect, it } from 'vitest';
import { actorLoss } from './actor-loss.js';
import { entropyLoss } from './entropy-loss.js';
import { klLoss } from './kl.js';
import { type Float64Matrix, matrixFromRows } from './matrix.js';
import { ppoPolicyLoss } from './policy-loss.js';
import { finiteDifference, maxAbsDiff, randomMask, randomMatrix } from './testing/index.js';

describe('entropyLoss', () => {
  it('aggregates entropies under the mask; the gradient is the aggregation weights', () => {
    const out = entropyLoss({
      entropies: matrixFromRows([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      sampledMask: matrixFromRows([
        [1, 0, 1],
        [0, 0, 1],
      ]),
      aggregation: 'seq-mean-token-mean',
    });
    expect(out.loss).toBeCloseTo((2 + 6) / 2, 12);
    expect(Array.from(out.gradEntropies.data)).toEqual([0.25, 0, 0.25, 0, 0, 0.5]);
    expect(out.metrics['actor/entropy']).toBeCloseTo(4, 12);
  });
});

describe('actorLoss', () => {
  const [b, t] = [4, 10];
  const logProbs = randomMatrix(71, b, t, -3, 0);
  const oldLogProbs = randomMatrix(72, b, t, -3, 0);
  const refLogProbs = randomMatrix(73, b, t, -3, 0);
  const advantages = randomMatrix(74, b, t, -1, 1);
  const entropies = randomMatrix(75, b, t, 0, 4);
  const sampledMask = randomMask(76, b, t);

  it('is pg_loss − entropyCoef·entropy + klLossCoef·kl with matching gradients', () => {
    const base = {
      logProbs,
      oldLogProbs,
      advantages,
      sampledMask,
      aggregation: 'seq-mean-token-sum' as const,
    };
    const out = actorLoss({ ...base, entropies, refLogProbs, entropyCoef: 0.01, klLossCoef: 0.1 });
    const pg = ppoPolicyLoss(base);
    const ent = entropyLoss({ entropies, sampledMask, aggregation: base.aggregation });
    const kl = klLoss({ logProbs, refLogProbs, sampledMask, aggregation: base.aggregation });
    expect(out.loss).toBeCloseTo(pg.loss - 0.01 * ent.loss + 0.1 * kl.loss, 12);
    expect(out.metrics['actor/loss']).toBe(out.loss);
    expect(out.metrics['actor/kl_loss']).toBe(kl.loss);

    const run = (lp: Float64Matrix) =>
      actorLoss({ ...base, logProbs: lp, entropies, refLogProbs, entropyCoef: 0.01, klLossCoef: 0.1 }).loss;
    expect(maxAbsDiff(out.gradLogProbs.data, finiteDifference(logProbs, run))).toBeLessThan(1e-7);
    const runEnt = (e: Float64Matrix) =>
      actorLoss({ ...base, entropies: e, refLogProbs, entropyCoef: 0.01, klLossCoef: 0.1 }).loss;
    expect(maxAbsDiff(out.gradEntropies.data, finiteDifference(entropies, runEnt))).toBeLessThan(1e-9);
  });

  it('asks for the inputs its coefficients need, naming them', () => {
    expect(() => actorLoss({ logProbs, oldLogProbs, advantages, sampledMask })).toThrow(/field 'entropies'/);
    expect(() =>
      actorLoss({ logProbs, oldLogProbs, advantages, sampledMask, entropyCoef: 0, klLossCoef: 0.001 }),
    ).toThrow(/field 'refLogProbs'/);
    const out = actorLoss({ logProbs, oldLogProbs, advantages, sampledMask, entropies, entropyCoef: 0 });
    expect(out.loss).toBe(ppoPolicyLoss({ logProbs, oldLogProbs, advantages, sampledMask }).loss);
    expect(out.gradEntropies.data.every((g) => g === 0)).toBe(true);
    expect(out.metrics['actor/entropy']).toBe(entropyLoss({ entropies, sampledMask }).loss);
  });
});
