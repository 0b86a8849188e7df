// Gradient accumulation over micro-batches: sums scaled gradients so a large logical batch fits
// in memory, then hands the optimiser one averaged gradient.

import type { TensorBuffers } from './types.js';

export class GradientAccumulator {
  private readonly sums: TensorBuffers = new Map();
  private count = 0;

  /** Adds `grads · weight` (weight = this micro-batch's share of the logical batch). */
  add(grads: TensorBuffers, weight = 1): void {
    for (const [name, grad] of grads) {
      let sum = this.sums.get(name);
      if (sum === undefined) {
        sum = new Float32Array(grad.length);
        this.sums.set(name, sum);
      }
      for (let i = 0; i < grad.length; i++) sum[i]! += grad[i]! * weight;
    }
    this.count++;
  }

  /** Micro-batches added since the last reset. */
  get microBatches(): number {
    return this.count;
  }

  /** The accumulated gradients (live buffers). */
  gradients(): TensorBuffers {
    return this.sums;
  }

  /** Zeroes the sums, keeping the buffers for the next step. */
  reset(): void {
    for (const sum of this.sums.values()) sum.fill(0);
    this.count = 0;
  }
}
