// Moving between one scalar reward per response and per-token rewards: Search-R1 places the
// outcome reward on the last response token, and the group estimators read it back as a row sum.

import { RlInputError } from './errors.js';
import { type Float64Matrix, type Matrix, sameShape } from './matrix.js';

/**
 * Puts each response's score on its last token inside the mask (Search-R1: "reward is placed on
 * the last response token"); a response with an empty mask gets nothing.
 * @param scores - one reward per response, shape (batch)
 * @param tokenMask - 1 = real response token (retrieved tokens included), shape (batch, responseLength)
 * @returns token-level scores, shape (batch, responseLength)
 */
export function placeOutcomeReward(scores: ArrayLike<number>, tokenMask: Matrix): Float64Matrix {
  const [batch, length] = sameShape([tokenMask, 'tokenMask']);
  checkScores(scores, batch);
  const data = new Float64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let t = length - 1; t >= 0; t--) {
      if (tokenMask.data[b * length + t] !== 0) {
        data[b * length + t] = scores[b]!;
        break;
      }
    }
  }
  return { shape: [batch, length], data };
}

/**
 * Σ_t of each row: the outcome score of each response when rewards are token-level.
 * @param tokenLevelRewards - shape (batch, responseLength)
 * @returns shape (batch)
 */
export function sequenceScores(tokenLevelRewards: Matrix): Float64Array {
  const [batch, length] = sameShape([tokenLevelRewards, 'tokenLevelRewards']);
  const scores = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let sum = 0;
    for (let t = 0; t < length; t++) sum += tokenLevelRewards.data[b * length + t]!;
    scores[b] = sum;
  }
  return scores;
}

/** Checks a (batch) vector of finite scores. */
export function checkScores(scores: ArrayLike<number>, batch: number): void {
  if (scores === null || typeof scores !== 'object' || typeof scores.length !== 'number') {
    throw new RlInputError('scores', 'expected an array of numbers, shape (batch)');
  }
  if (scores.length !== batch) {
    throw new RlInputError('scores', `expected ${batch} scores (one per response), got ${scores.length}`);
  }
  for (let i = 0; i < batch; i++) {
    if (!Number.isFinite(scores[i]))
      throw new RlInputError(`scores[${i}]`, `expected a finite number, got ${scores[i]}`);
  }
}
