import { describe, expect, it } from 'vitest';
import { InvalidInputError } from './errors.js';
import { createRng, Xoshiro128 } from './rng.js';

describe('Xoshiro128', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 8 }, () => a.next());
    const seqB = Array.from({ length: 8 }, () => b.next());
    const seqC = Array.from({ length: 8 }, () => c.next());
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
  });

  it('draws uniform numbers in [0, 1) with the right mean and variance', () => {
    const rng = createRng(7);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let outOfRange = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.next();
      if (!(x >= 0 && x < 1)) outOfRange++;
      sum += x;
      sumSq += x * x;
    }
    const mean = sum / n;
    expect(outOfRange).toBe(0);
    expect(mean).toBeCloseTo(0.5, 2);
    expect(sumSq / n - mean * mean).toBeCloseTo(1 / 12, 2);
  });

  it('draws standard normals', () => {
    const rng = createRng(3);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      sum += x;
      sumSq += x * x;
    }
    expect(sum / n).toBeCloseTo(0, 1);
    expect(sumSq / n).toBeCloseTo(1, 1);
  });

  it('restores its exact state', () => {
    const rng = createRng(11);
    rng.normal();
    rng.next();
    const saved = rng.state();
    const expected = [rng.next(), rng.normal(), rng.int(1000)];
    const resumed = Xoshiro128.restore(saved);
    expect([resumed.next(), resumed.normal(), resumed.int(1000)]).toEqual(expected);
  });

  it('rejects bad arguments', () => {
    expect(() => createRng(Number.NaN)).toThrow(InvalidInputError);
    expect(() => createRng(Number.NaN)).toThrow('Rng seed must be a finite number, got NaN');
    expect(() => createRng(1).int(0)).toThrow(InvalidInputError);
  });
});
