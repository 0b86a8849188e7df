// Masking lives here and nowhere else: every loss and statistic over a (batch, responseLength)
// matrix goes through these functions, so excluding retrieved tokens from training is only a
// matter of what goes into the mask. A position whose mask is 0 is skipped, never multiplied by 0,
// so even a NaN or Infinity there cannot leak into a result.

import { lookupVariant } from '@sr1/core';
import { RlInputError } from './errors.js';
import { type Matrix, sameShape } from './matrix.js';

/** Names of the loss aggregation modes (veRL's `loss_agg_mode`). */
export type LossAggregation = 'token-mean' | 'seq-mean-token-sum' | 'seq-mean-token-mean';

/** Every aggregation mode, in the order their errors list them. */
export const LOSS_AGGREGATIONS = ['token-mean', 'seq-mean-token-sum', 'seq-mean-token-mean'] as const;

/**
 * Reads the mask value at `index` (weights are allowed, not only 0/1) and fails loudly on a value
 * that could not be a mask.
 */
function maskAt(mask: ArrayLike<number>, index: number, field: string): number {
  const m = mask[index]!;
  if (!(m >= 0) || !Number.isFinite(m)) {
    throw new RlInputError(field, `mask values must be finite and >= 0, got ${m} at flat index ${index}`);
  }
  return m;
}

/**
 * Σ mask·values over positions with a non-zero mask.
 * @param values - shape (batch, responseLength)
 * @param mask - 1 = counted, 0 = ignored; shape (batch, responseLength)
 */
export function maskedSum(values: Matrix, mask: Matrix): number {
  sameShape([values, 'values'], [mask, 'mask']);
  let sum = 0;
  for (let i = 0; i < values.data.length; i++) {
    const m = maskAt(mask.data, i, 'mask');
    if (m !== 0) sum += m * values.data[i]!;
  }
  return sum;
}

/**
 * Σ mask·values / Σ mask, or 0 when the mask is empty (as veRL's `masked_mean`, which divides by
 * Σ mask + 1e-8; sr1 divides exactly and special-cases the empty mask instead).
 * @param values - shape (batch, responseLength)
 * @param mask - 1 = counted, 0 = ignored; shape (batch, responseLength)
 */
export function maskedMean(values: Matrix, mask: Matrix): number {
  sameShape([values, 'values'], [mask, 'mask']);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.data.length; i++) {
    const m = maskAt(mask.data, i, 'mask');
    if (m === 0) continue;
    sum += m * values.data[i]!;
    count += m;
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * Variance of the masked values; unbiased (Bessel-corrected) by default, as veRL's `masked_var`.
 * @throws RlInputError when the mask sums to less than 2 and `unbiased` (the correction divides by 0).
 */
export function maskedVar(values: Matrix, mask: Matrix, options: { unbiased?: boolean } = {}): number {
  const unbiased = options.unbiased ?? true;
  const mean = maskedMean(values, mask);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < values.data.length; i++) {
    const m = mask.data[i]!;
    if (m === 0) continue;
    const centred = values.data[i]! - mean;
    sum += m * centred * centred;
    count += m;
  }
  if (!unbiased) return count === 0 ? 0 : sum / count;
  if (count < 2) {
    throw new RlInputError('mask', `an unbiased variance needs a mask summing to at least 2, got ${count}`);
  }
  return sum / (count - 1);
}

/**
 * (values − mean) / sqrt(var + 1e-8) over the masked positions, veRL's `masked_whiten`
 * (unbiased variance). Positions outside the mask come out as 0 (veRL whitens them too; they are
 * never used, and zero makes that visible).
 * @param values - shape (batch, responseLength)
 * @param mask - shape (batch, responseLength); must sum to at least 2
 * @returns shape (batch, responseLength)
 */
export function maskedWhiten(
  values: Matrix,
  mask: Matrix,
  options: { shiftMean?: boolean } = {},
): Float64Array {
  const shiftMean = options.shiftMean ?? true;
  const mean = maskedMean(values, mask);
  const scale = 1 / Math.sqrt(maskedVar(values, mask) + 1e-8); // veRL's epsilon
  const out = new Float64Array(values.data.length);
  for (let i = 0; i < out.length; i++) {
    if (mask.data[i] === 0) continue;
    const whitened = (values.data[i]! - mean) * scale;
    out[i] = shiftMean ? whitened : whitened + mean;
  }
  return out;
}

type WeightFn = (mask: ArrayLike<number>, batch: number, length: number) => Float64Array;

/**
 * Per-position weights w such that loss = Σ w ⊙ lossMatrix. A sequence whose mask is all zero is
 * left out of the seq-mean modes' denominator (veRL's later `agg_loss` does the same; dividing by
 * it would be 0/0).
 */
const AGGREGATION_WEIGHTS = {
  'token-mean': (mask, _batch, _length) => {
    let total = 0;
    for (let i = 0; i < mask.length; i++) total += maskAt(mask, i, 'mask');
    const weights = new Float64Array(mask.length);
    if (total === 0) return weights;
    for (let i = 0; i < mask.length; i++) weights[i] = mask[i]! / total;
    return weights;
  },
  'seq-mean-token-sum': (mask, batch, length) => {
    const rowTotals = rowSums(mask, batch, length);
    const nonEmpty = rowTotals.filter((total) => total > 0).length;
    const weights = new Float64Array(mask.length);
    if (nonEmpty === 0) return weights;
    for (let i = 0; i < mask.length; i++) weights[i] = mask[i]! / nonEmpty;
    return weights;
  },
  'seq-mean-token-mean': (mask, batch, length) => {
    const rowTotals = rowSums(mask, batch, length);
    const nonEmpty = rowTotals.filter((total) => total > 0).length;
    const weights = new Float64Array(mask.length);
    for (let b = 0; b < batch; b++) {
      const total = rowTotals[b]!;
      if (total === 0) continue;
      for (let t = 0; t < length; t++) weights[b * length + t] = mask[b * length + t]! / (total * nonEmpty);
    }
    return weights;
  },
} satisfies Record<LossAggregation, WeightFn>;

function rowSums(mask: ArrayLike<number>, batch: number, length: number): number[] {
  const totals: number[] = [];
  for (let b = 0; b < batch; b++) {
    let total = 0;
    for (let t = 0; t < length; t++) total += maskAt(mask, b * length + t, 'mask');
    totals.push(total);
  }
  return totals;
}

/**
 * The weights `aggregateLoss` applies: loss = Σ weights ⊙ lossMatrix, so dLoss/dLossMatrix =
 * weights. Zero wherever the mask is zero.
 * @param mask - 1 = trainable token; shape (batch, responseLength)
 * @returns shape (batch, responseLength)
 */
export function aggregationWeights(mask: Matrix, mode: LossAggregation): Float64Array {
  const [batch, length] = sameShape([mask, 'mask']);
  const weightFn = lookupVariant<WeightFn>(AGGREGATION_WEIGHTS, mode, 'loss aggregation mode', 'aggregation');
  return weightFn(mask.data, batch, length);
}

/**
 * Reduces a per-token loss matrix to a scalar under the mask (veRL's `agg_loss`):
 * - `token-mean`: Σ mask·loss / Σ mask — every trainable token weighs the same;
 * - `seq-mean-token-sum`: mean over sequences of Σ_t mask·loss (Dr.GRPO without the constant);
 * - `seq-mean-token-mean`: mean over sequences of the per-sequence token mean (GRPO paper).
 * Positions with mask 0 are skipped, so NaN there does not propagate.
 * @param lossMatrix - per-token losses, shape (batch, responseLength)
 * @param mask - 1 = trainable token, shape (batch, responseLength)
 */
export function aggregateLoss(lossMatrix: Matrix, mask: Matrix, mode: LossAggregation): number {
  sameShape([lossMatrix, 'lossMatrix'], [mask, 'mask']);
  return weightedSum(lossMatrix.data, aggregationWeights(mask, mode));
}

/** Σ weights·values over non-zero weights (skipping, not multiplying, the zero ones). */
export function weightedSum(values: ArrayLike<number>, weights: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    if (w !== 0) sum += w * values[i]!;
  }
  return sum;
}
