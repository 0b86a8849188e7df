// The KL coefficient over training: fixed (the paper's setting) or adaptive towards a target KL
// (Ziegler et al. 2019, "Fine-Tuning Language Models from Human Preferences", arXiv 1909.08593).

import { checkNumber } from './matrix.js';

export interface AdaptiveKlOptions {
  /** The KL per sequence the controller steers towards. */
  targetKl: number;
  /** Samples over which the coefficient may change by about ±20 %. */
  horizon: number;
}

/**
 * The next β of the adaptive controller: β · (1 + clip(KL/target − 1, −0.2, 0.2) · nSteps/horizon),
 * as veRL's `AdaptiveKLController.update`. Pure: returns the new value.
 * @param currentKl - the batch's KL (`critic/kl` of `applyKlPenalty`)
 * @param nSteps - samples in the batch
 */
export function adaptiveKlCoef(
  klCoef: number,
  currentKl: number,
  nSteps: number,
  options: AdaptiveKlOptions,
): number {
  checkNumber(klCoef, 'klCoef', 0);
  checkNumber(currentKl, 'currentKl');
  checkNumber(nSteps, 'nSteps', 0);
  const target = checkNumber(options.targetKl, 'targetKl', Number.MIN_VALUE);
  const horizon = checkNumber(options.horizon, 'horizon', Number.MIN_VALUE);
  const error = Math.min(0.2, Math.max(-0.2, currentKl / target - 1));
  return klCoef * (1 + (error * nSteps) / horizon);
}
