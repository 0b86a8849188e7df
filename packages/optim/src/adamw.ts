// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019) and plain SGD,
// with PyTorch's update order so sr1 and torch.optim agree to float32 rounding.

import { InvalidInputError } from '@sr1/core';
import type { TensorBuffers } from './types.js';

export interface AdamWOptions {
  lr?: number; // 1e-3: torch's default; trainers pass their schedule's value per step
  beta1?: number; // 0.9: torch's default
  beta2?: number; // 0.999: torch's default
  eps?: number; // 1e-8: torch's default
  weightDecay?: number; // 0.01: torch's AdamW default
  /** Tensors that get no weight decay (norms and biases, by convention). */
  noDecay?: (name: string) => boolean;
}

/** Serializable optimiser state: step count and the two moments per tensor. */
export interface AdamWState {
  step: number;
  firstMoment: TensorBuffers;
  secondMoment: TensorBuffers;
}

/** Norm weights and biases: the usual exclusions from weight decay. */
export function isNormOrBias(name: string): boolean {
  return name.endsWith('.bias') || name.includes('norm');
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  lr: number;
  private readonly noDecay: (name: string) => boolean;
  private readonly firstMoment: TensorBuffers = new Map();
  private readonly secondMoment: TensorBuffers = new Map();
  private steps = 0;

  constructor(options: AdamWOptions = {}) {
    this.lr = options.lr ?? 1e-3;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.noDecay = options.noDecay ?? (() => false);
    for (const [field, value] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1))
        throw new InvalidInputError({ field, reason: `expected [0, 1), got ${value}` });
    }
    if (!(this.eps > 0))
      throw new InvalidInputError({ field: 'eps', reason: `expected > 0, got ${this.eps}` });
  }

  /** Steps taken so far. */
  get stepCount(): number {
    return this.steps;
  }

  /**
   * One AdamW update of every parameter that has a gradient, in place:
   * p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
   * p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
   */
  step(params: TensorBuffers, grads: TensorBuffers, lr: number = this.lr): void {
    this.steps++;
    const t = this.steps;
    const biasCorrection1 = 1 - this.beta1 ** t;
    const biasCorrection2Sqrt = Math.sqrt(1 - this.beta2 ** t);
    const stepSize = lr / biasCorrection1;
    const { beta1, beta2, eps } = this;
    for (const [name, grad] of grads) {
      const param = params.get(name);
      if (param === undefined) {
        throw new InvalidInputError({
          code: 'gradient_mismatch',
          field: name,
          reason: `AdamW: gradient for unknown parameter ${name}`,
        });
      }
      if (param.length !== grad.length) {
        throw new InvalidInputError({
          code: 'gradient_mismatch',
          field: name,
          reason: `AdamW: ${name} has ${param.length} values but its gradient ${grad.length}`,
        });
      }
      let m = this.firstMoment.get(name);
      let v = this.secondMoment.get(name);
      if (m === undefined || v === undefined) {
        m = new Float32Array(param.length);
        v = new Float32Array(param.length);
        this.firstMoment.set(name, m);
        this.secondMoment.set(name, v);
      }
      const decay = this.noDecay(name) ? 1 : 1 - lr * this.weightDecay;
      for (let i = 0; i < param.length; i++) {
        const g = grad[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * g;
        const vi = beta2 * v[i]! + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i]! * decay - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / biasCorrection2Sqrt + eps);
      }
    }
  }

  /** A copy-free view of the state for checkpoints (the buffers are live; copy before mutating). */
  state(): AdamWState {
    return { step: this.steps, firstMoment: this.firstMoment, secondMoment: this.secondMoment };
  }

  /** Restores a saved state (buffers are copied). */
  loadState(state: AdamWState): void {
    this.steps = state.step;
    this.firstMoment.clear();
    this.secondMoment.clear();
    for (const [name, m] of state.firstMoment) this.firstMoment.set(name, Float32Array.from(m));
    for (const [name, v] of state.secondMoment) this.secondMoment.set(name, Float32Array.from(v));
  }
}

/** Plain stochastic gradient descent, p ← p − lr·g (torch.optim.SGD without momentum). */
export function sgdStep(params: TensorBuffers, grads: TensorBuffers, lr: number): void {
  for (const [name, grad] of grads) {
    const param = params.get(name);
    if (param === undefined) {
      throw new InvalidInputError({
        code: 'gradient_mismatch',
        field: name,
        reason: `SGD: gradient for unknown parameter ${name}`,
      });
    }
    for (let i = 0; i < param.length; i++) param[i] = param[i]! - lr * grad[i]!;
  }
}
