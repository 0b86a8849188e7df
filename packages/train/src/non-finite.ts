// A diverged run stops instead of "training" on: a step whose loss or gradient norm is not finite
// is skipped (a rare overflow), but after `limit` such steps in a row the run has diverged, and
// every later step would be skipped too while the process exits 0.

import { InvalidInputError, Sr1Error } from '@sr1/core';

/** Consecutive non-finite steps that end a run (SFT and RL); see `NonFiniteStepGuard`. */
export const DEFAULT_MAX_NON_FINITE_STEPS = 10; // 10: rides out a rare overflow, stops a diverged run within seconds

/** The run diverged: `count` optimiser steps in a row had a non-finite loss or gradient norm. */
export class NonFiniteStepsError extends Sr1Error {
  readonly step: number;
  readonly count: number;
  constructor(options: { step: number; count: number; hint?: string }) {
    super(
      'non_finite_steps',
      `training diverged: ${options.count} steps in a row (up to step ${options.step}) had a non-finite loss or gradient norm and were skipped` +
        `${options.hint !== undefined ? `; ${options.hint}` : ''}`,
    );
    this.step = options.step;
    this.count = options.count;
  }
}

/** Counts non-finite steps in a row and throws `NonFiniteStepsError` when they reach `limit`. */
export class NonFiniteStepGuard {
  private inARow = 0;

  constructor(
    readonly limit: number,
    private readonly hint?: string,
  ) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new InvalidInputError({
        field: 'maxNonFiniteSteps',
        reason: `maxNonFiniteSteps must be an integer ≥ 1, got ${limit}`,
      });
    }
  }

  /** Records whether step `step` (1-based) was skipped; throws once `limit` were skipped in a row. */
  record(step: number, skipped: boolean): void {
    this.inARow = skipped ? this.inARow + 1 : 0;
    if (this.inARow >= this.limit) {
      throw new NonFiniteStepsError({
        step,
        count: this.inARow,
        ...(this.hint !== undefined ? { hint: this.hint } : {}),
      });
    }
  }
}
