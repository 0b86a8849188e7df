import { describe, expect, it } from 'vitest';
import { matrixFromRows, matrixToRows } from './matrix.js';
import { placeOutcomeReward, sequenceScores } from './outcome-reward.js';

describe('placeOutcomeReward / sequenceScores', () => {
  it('puts each score on the last masked-in token, and sums back', () => {
    const mask = matrixFromRows([
      [1, 1, 0, 0],
      [1, 0, 1, 1],
      [0, 0, 0, 0],
    ]);
    const placed = placeOutcomeReward([0.5, 1, 7], mask);
    expect(matrixToRows(placed)).toEqual([
      [0, 0.5, 0, 0],
      [0, 0, 0, 1],
      [0, 0, 0, 0],
    ]);
    expect(Array.from(sequenceScores(placed))).toEqual([0.5, 1, 0]);
    expect(() => placeOutcomeReward([1], mask)).toThrow(/field 'scores': expected 3 scores/);
  });
});
