import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { GradientAccumulator } from './accumulate.js';
import { clipGradNorm, globalNorm } from './clip.js';
import { createSchedule } from './schedule.js';

describe('clipGradNorm', () => {
  it('scales to the limit with torch formula and reports the pre-clip norm', () => {
    const grads = new Map([
      ['a', Float32Array.from([3, 0])],
      ['b', Float32Array.from([4])],
    ]);
    const result = clipGradNorm(grads, 1);
    expect(result.totalNorm).toBe(5);
    expect(result.scale).toBeCloseTo(1 / (5 + 1e-6), 12);
    expect(globalNorm(grads)).toBeCloseTo(5 / (5 + 1e-6), 6);
  });

  it('leaves small gradients alone and flags non-finite ones', () => {
    const small = new Map([['a', Float32Array.from([0.1, 0.2])]]);
    expect(clipGradNorm(small, 1).scale).toBe(1);
    const bad = new Map([['a', Float32Array.from([1, Number.NaN])]]);
    const result = clipGradNorm(bad, 1);
    expect(result.finite).toBe(false);
    expect(bad.get('a')![0]).toBe(1);
  });

  it('rejects a non-positive limit with a typed error', () => {
    expect(() => clipGradNorm(new Map(), 0)).toThrow(InvalidInputError);
    expect(() => clipGradNorm(new Map(), 0)).toThrow('maxNorm must be > 0, got 0');
  });
});

describe('createSchedule', () => {
  it('warms up linearly like veRL (lr·min(1, (step+1)/warmup))', () => {
    const schedule = createSchedule('linear-warmup', { lr: 1e-6, totalSteps: 100, warmupRatio: 0.285 });
    expect(schedule(0)).toBeCloseTo(1e-6 / 28, 18);
    expect(schedule(27)).toBeCloseTo(1e-6, 18);
    expect(schedule(90)).toBe(1e-6);
  });

  it('decays by half a cosine after warm-up', () => {
    const schedule = createSchedule('cosine', { lr: 1, totalSteps: 110, warmupSteps: 10, minLrRatio: 0.1 });
    expect(schedule(9)).toBeCloseTo(1, 12);
    expect(schedule(10)).toBeCloseTo(1, 12);
    expect(schedule(60)).toBeCloseTo(0.55, 12);
    expect(schedule(110)).toBeCloseTo(0.1, 12);
  });

  it('names the field or lists the schedules on bad input', () => {
    expect(() => createSchedule('linear', { lr: 1, totalSteps: 1 })).toThrow(
      'Supported: [constant, linear-warmup, cosine]',
    );
    expect(() => createSchedule('constant', { lr: 1, totalSteps: 0 })).toThrow("field 'totalSteps'");
    expect(() => createSchedule('constant', { lr: 1, totalSteps: 5, warmupRatio: 2 })).toThrow(
      "field 'warmupRatio'",
    );
  });
});

describe('GradientAccumulator', () => {
  it('sums weighted micro-batch gradients and resets', () => {
    const accumulator = new GradientAccumulator();
    accumulator.add(new Map([['w', Float32Array.from([1, 2])]]), 0.5);
    accumulator.add(new Map([['w', Float32Array.from([3, 4])]]), 0.5);
    expect(Array.from(accumulator.gradients().get('w')!)).toEqual([2, 3]);
    expect(accumulator.microBatches).toBe(2);
    accumulator.reset();
    expect(Array.from(accumulator.gradients().get('w')!)).toEqual([0, 0]);
  });
});
