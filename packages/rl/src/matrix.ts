// The one tensor shape the RL maths works on: a row-major (batch, responseLength) matrix over a
// typed array. Inputs accept any numeric array-like (Float32Array from the engine, Uint8Array
// masks, plain arrays in tests); outputs are always Float64Array so sums stay exact.

import { RlInputError } from './errors.js';

/**
 * A row-major 2-D tensor, shape (batch, responseLength). Structurally compatible with the
 * engine's `HostTensor` (`{ shape: number[]; data: Float32Array }`).
 */
export interface Matrix {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

/** A computed (batch, responseLength) matrix; float64 so the caller decides when to round. */
export interface Float64Matrix {
  readonly shape: readonly [number, number];
  readonly data: Float64Array;
}

/** Builds a matrix from nested rows (every row the same length); handy in tests and scripts. */
export function matrixFromRows(rows: readonly (readonly number[])[]): Float64Matrix {
  const batch = rows.length;
  const length = rows[0]?.length ?? 0;
  const data = new Float64Array(batch * length);
  rows.forEach((row, i) => {
    if (row.length !== length) {
      throw new RlInputError(`rows[${i}]`, `expected ${length} columns like row 0, got ${row.length}`);
    }
    data.set(row, i * length);
  });
  return { shape: [batch, length], data };
}

/** The rows of a matrix as plain arrays (for printing and assertions). */
export function matrixToRows(matrix: Matrix): number[][] {
  const [batch, length] = shapeOf(matrix, 'matrix');
  return Array.from({ length: batch }, (_, i) =>
    Array.from({ length }, (_, t) => matrix.data[i * length + t]!),
  );
}

/** A zero-filled float64 matrix of the given shape. */
export function zerosMatrix(batch: number, length: number): Float64Matrix {
  return { shape: [batch, length], data: new Float64Array(batch * length) };
}

/** Checks that `matrix` is 2-D with data of the right length and returns (batch, length). */
export function shapeOf(matrix: Matrix, field: string): [number, number] {
  if (matrix === null || typeof matrix !== 'object' || !('shape' in matrix) || !('data' in matrix)) {
    throw new RlInputError(field, 'expected a matrix { shape: [batch, length], data }');
  }
  const { shape, data } = matrix;
  if (shape.length !== 2) {
    throw new RlInputError(field, `expected shape (batch, responseLength), got rank ${shape.length}`);
  }
  const [batch, length] = shape as [number, number];
  if (!Number.isInteger(batch) || !Number.isInteger(length) || batch < 0 || length < 0) {
    throw new RlInputError(field, `shape must be two non-negative integers, got (${shape.join(', ')})`);
  }
  if (data.length !== batch * length) {
    throw new RlInputError(
      field,
      `shape (${batch}, ${length}) needs ${batch * length} values, got ${data.length}`,
    );
  }
  return [batch, length];
}

/** Checks that every matrix in `others` has the shape of `reference`; returns that shape. */
export function sameShape(
  reference: [Matrix, string],
  ...others: readonly (readonly [Matrix, string] | undefined)[]
): [number, number] {
  const [batch, length] = shapeOf(reference[0], reference[1]);
  for (const other of others) {
    if (other === undefined) continue;
    const [b, t] = shapeOf(other[0], other[1]);
    if (b !== batch || t !== length) {
      throw new RlInputError(
        other[1],
        `expected shape (${batch}, ${length}) like ${reference[1]}, got (${b}, ${t})`,
      );
    }
  }
  return [batch, length];
}

/** Checks a scalar option: finite and within [min, max]. */
export function checkNumber(value: number, field: string, min = -Infinity, max = Infinity): number {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    value < min ||
    value > max ||
    !Number.isFinite(value)
  ) {
    throw new RlInputError(field, `expected a finite number in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}
