// Global gradient-norm clipping (as torch.nn.utils.clip_grad_norm_) and the finiteness check that
// lets a trainer skip a step whose loss or gradients overflowed.

import { InvalidInputError } from '@sr1/core';
import type { TensorBuffers } from './types.js';

export interface ClipResult {
  /** The L2 norm of all gradients together, before clipping (NaN/∞ if any entry is). */
  totalNorm: number;
  /** The factor the gradients were multiplied by (1 when under the limit). */
  scale: number;
  /** False when some gradient entry is NaN or ±∞; then nothing was scaled. */
  finite: boolean;
}

/** The global L2 norm of all gradients, accumulated in float64. */
export function globalNorm(grads: TensorBuffers): number {
  let sumSq = 0;
  for (const grad of grads.values()) {
    for (let i = 0; i < grad.length; i++) sumSq += grad[i]! * grad[i]!;
  }
  return Math.sqrt(sumSq);
}

/**
 * Scales all gradients in place so their global norm is at most `maxNorm`
 * (factor maxNorm / (norm + 1e-6), torch's formula). Non-finite gradients are left untouched and
 * reported, so the caller can skip the step.
 */
export function clipGradNorm(grads: TensorBuffers, maxNorm: number): ClipResult {
  if (!(maxNorm > 0)) {
    throw new InvalidInputError({ field: 'maxNorm', reason: `maxNorm must be > 0, got ${maxNorm}` });
  }
  const totalNorm = globalNorm(grads);
  if (!Number.isFinite(totalNorm)) return { totalNorm, scale: 1, finite: false };
  const scale = Math.min(1, maxNorm / (totalNorm + 1e-6));
  if (scale < 1) {
    for (const grad of grads.values()) {
      for (let i = 0; i < grad.length; i++) grad[i]! *= scale;
    }
  }
  return { totalNorm, scale, finite: true };
}
