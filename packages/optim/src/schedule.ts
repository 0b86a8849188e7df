// Learning-rate schedules as pure functions of the step: constant, linear warm-up, cosine.

import { InvalidInputError, lookupVariant } from '@sr1/core';

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Total optimiser steps of the run. */
  totalSteps: number;
  /** Warm-up steps, or use `warmupRatio`; linear from 0 to `lr`. */
  warmupSteps?: number;
  /** Fraction of `totalSteps` spent warming up (the paper's actor: 0.285). */
  warmupRatio?: number;
  /** Cosine schedules decay to `lr * minLrRatio`. */
  minLrRatio?: number; // 0: decay to zero, as the usual cosine schedule
}

export type ScheduleName = 'constant' | 'linear-warmup' | 'cosine';

/** A learning rate per optimiser step (0-based). */
export type Schedule = (step: number) => number;

function warmup(options: ScheduleOptions): number {
  if (options.warmupSteps !== undefined) return options.warmupSteps;
  return Math.floor((options.warmupRatio ?? 0) * options.totalSteps);
}

const SCHEDULES = {
  constant:
    (options: ScheduleOptions): Schedule =>
    () =>
      options.lr,
  // veRL's constant-with-warm-up: lr * min(1, (step + 1) / warmupSteps).
  'linear-warmup': (options: ScheduleOptions): Schedule => {
    const steps = warmup(options);
    return (step) => (steps > 0 ? options.lr * Math.min(1, (step + 1) / steps) : options.lr);
  },
  // Linear warm-up then half a cosine from lr to lr * minLrRatio over the remaining steps.
  cosine: (options: ScheduleOptions): Schedule => {
    const steps = warmup(options);
    const floor = options.lr * (options.minLrRatio ?? 0);
    const decay = Math.max(1, options.totalSteps - steps);
    return (step) => {
      if (step < steps) return (options.lr * (step + 1)) / steps;
      const progress = Math.min(1, (step - steps) / decay);
      return floor + (options.lr - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
    };
  },
} satisfies Record<ScheduleName, (options: ScheduleOptions) => Schedule>;

/** Builds the named schedule; an unknown name lists the valid ones. */
export function createSchedule(name: string, options: ScheduleOptions): Schedule {
  if (!(options.lr >= 0))
    throw new InvalidInputError({ field: 'lr', reason: `expected ≥ 0, got ${options.lr}` });
  if (!Number.isInteger(options.totalSteps) || options.totalSteps < 1) {
    throw new InvalidInputError({
      field: 'totalSteps',
      reason: `expected an integer ≥ 1, got ${options.totalSteps}`,
    });
  }
  const ratio = options.warmupRatio;
  if (ratio !== undefined && !(ratio >= 0 && ratio <= 1)) {
    throw new InvalidInputError({
      field: 'warmupRatio',
      reason: `expected a number in [0, 1], got ${ratio}`,
    });
  }
  return lookupVariant(SCHEDULES, name, 'learning-rate schedule', 'schedule')(options);
}
