// Helpers shared by this package's tests only (not exported from the package): seeded random
// matrices and a central finite-difference gradient.

import { createRng } from '@sr1/core';
import type { Float64Matrix } from '../matrix.js';

/** A (batch, length) matrix of uniform values in [low, high) from a seeded Rng. */
export function randomMatrix(seed: number, batch: number, length: number, low = -1, high = 1): Float64Matrix {
  const rng = createRng(seed);
  const data = new Float64Array(batch * length);
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.next();
  return { shape: [batch, length], data };
}

/** A 0/1 mask of the given shape, each position kept with probability `keep`. */
export function randomMask(seed: number, batch: number, length: number, keep = 0.6): Float64Matrix {
  const rng = createRng(seed);
  const data = new Float64Array(batch * length);
  for (let i = 0; i < data.length; i++) data[i] = rng.next() < keep ? 1 : 0;
  return { shape: [batch, length], data };
}

/** d loss / d x by central differences, one coordinate at a time. */
export function finiteDifference(
  x: Float64Matrix,
  loss: (x: Float64Matrix) => number,
  step = 1e-6,
): Float64Array {
  const grad = new Float64Array(x.data.length);
  for (let i = 0; i < x.data.length; i++) {
    const plus = x.data.slice();
    const minus = x.data.slice();
    plus[i]! += step;
    minus[i]! -= step;
    grad[i] = (loss({ shape: x.shape, data: plus }) - loss({ shape: x.shape, data: minus })) / (2 * step);
  }
  return grad;
}

/** Largest absolute difference between two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** A copy of `m` with NaN written wherever `mask` is 0. */
export function poisonMasked(m: Float64Matrix, mask: Float64Matrix): Float64Matrix {
  const data = m.data.map((v, i) => (mask.data[i] === 0 ? Number.NaN : v));
  return { shape: m.shape, data };
}
