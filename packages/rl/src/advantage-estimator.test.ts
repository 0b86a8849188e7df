import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { ADVANTAGE_ESTIMATOR_NAMES, advantageEstimator, computeAdvantages } from './advantage-estimator.js';
import { computeGaeAdvantages } from './gae-advantage.js';
import { computeGrpoAdvantages, computeRlooAdvantages } from './group-advantage.js';
import { matrixFromRows } from './matrix.js';
import { placeOutcomeReward } from './outcome-reward.js';
import { randomMatrix } from './testing/index.js';

const tokenMask = matrixFromRows([
  [1, 1, 0],
  [1, 0, 0],
  [1, 1, 1],
  [1, 1, 0],
]);
const scores = [1, 0, 0.5, 1];
const promptIds = ['a', 'a', 'b', 'b'];
const tokenLevelRewards = placeOutcomeReward(scores, tokenMask);
const values = randomMatrix(7, 4, 3);

describe('advantage estimator registry', () => {
  it('names gae, grpo and rloo, and only gae needs a critic', () => {
    expect(ADVANTAGE_ESTIMATOR_NAMES).toEqual(['gae', 'grpo', 'rloo']);
    expect(ADVANTAGE_ESTIMATOR_NAMES.map((name) => advantageEstimator(name).needsCritic)).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('gives exactly what the estimator functions give', () => {
    const inputs = { scores, tokenLevelRewards, values, promptIds, tokenMask, gamma: 0.9, lambda: 0.8 };
    const gae = computeGaeAdvantages({
      tokenLevelRewards,
      values,
      tokenMask,
      gamma: 0.9,
      lambda: 0.8,
    });
    expect(computeAdvantages('gae', inputs)).toEqual(gae);
    const grpo = computeGrpoAdvantages({ scores, promptIds, tokenMask, normalizeByStd: false });
    const viaRegistry = computeAdvantages('grpo', { ...inputs, normalizeByStd: false });
    expect(viaRegistry.advantages).toEqual(grpo.advantages);
    expect(viaRegistry.metrics).toEqual(grpo.metrics);
    const rloo = computeRlooAdvantages({ scores, promptIds, tokenMask });
    expect(computeAdvantages('rloo', inputs).advantages).toEqual(rloo.advantages);
  });

  it('rejects GAE without values, naming the field', () => {
    expect(() => computeAdvantages('gae', { scores, tokenLevelRewards, promptIds, tokenMask })).toThrow(
      "field 'values': the 'gae' advantage estimator needs the critic's values",
    );
  });

  it('rejects an unknown name with a typed error listing the valid ones', () => {
    const lookup = () => advantageEstimator('reinforce');
    expect(lookup).toThrow(InvalidInputError);
    expect(lookup).toThrow(
      "field 'advantage': unknown advantage estimator 'reinforce'. Supported: [gae, grpo, rloo]",
    );
    try {
      lookup();
    } catch (error) {
      expect((error as InvalidInputError).code).toBe('unknown_variant');
    }
  });
});
