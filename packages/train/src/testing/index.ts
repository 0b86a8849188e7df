// Test doubles other packages need: a real (if tiny) trainable model — a bigram language model
// with a value table — whose exact gradients let the training loops be tested without ONNX.

import type { Rng } from '@sr1/core';
import type { PolicyForward, TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from '../policy.js';

/**
 * logits(next | prev) = W[prev] (vocab × vocab), value(t) = U[token t]. A genuine model with
 * analytic gradients: enough to check that a loop lowers a loss, resumes exactly and skips
 * non-finite steps.
 */
export class BigramPolicy implements TrainablePolicy {
  readonly parameters: TensorBuffers;
  /** Every batch passed to forward/backward, in order (for assertions on data order). */
  readonly calls: Array<{ kind: 'forward' | 'backward'; tokens: Int32Array }> = [];

  constructor(
    readonly vocabSize: number,
    rng: Rng,
  ) {
    const table = new Float32Array(vocabSize * vocabSize);
    for (let i = 0; i < table.length; i++) table[i] = rng.normal() * 0.1;
    this.parameters = new Map([
      ['bigram.weight', table],
      ['value.weight', new Float32Array(vocabSize)],
    ]);
  }

  /** p(next | prev) under the current weights. */
  probability(prev: number, next: number): number {
    return this.distribution(prev)[next]!;
  }

  private distribution(prev: number): Float64Array {
    const V = this.vocabSize;
    const row = this.parameters.get('bigram.weight')!;
    const p = new Float64Array(V);
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < V; j++) max = Math.max(max, row[prev * V + j]!);
    let sum = 0;
    for (let j = 0; j < V; j++) {
      p[j] = Math.exp(row[prev * V + j]! - max);
      sum += p[j]!;
    }
    for (let j = 0; j < V; j++) p[j]! /= sum;
    return p;
  }

  async forward(batch: TokenBatch): Promise<PolicyForward> {
    this.calls.push({ kind: 'forward', tokens: batch.tokens.slice() });
    const { batchSize: B, length: T } = batch;
    const logprobs = new Float32Array(B * T);
    const entropies = new Float32Array(B * T);
    const values = new Float32Array(B * T);
    const valueTable = this.parameters.get('value.weight')!;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const token = batch.tokens[b * T + t]!;
        values[b * T + t] = valueTable[token]!;
        if (t === 0) continue;
        const p = this.distribution(batch.tokens[b * T + t - 1]!);
        logprobs[b * T + t] = Math.log(p[token]!);
        let entropy = 0;
        for (const pj of p) if (pj > 0) entropy -= pj * Math.log(pj);
        entropies[b * T + t] = entropy;
      }
    }
    return { logprobs, entropies, values };
  }

  async backward(batch: TokenBatch, upstream: Upstream): Promise<TensorBuffers> {
    this.calls.push({ kind: 'backward', tokens: batch.tokens.slice() });
    const { batchSize: B, length: T } = batch;
    const V = this.vocabSize;
    const dTable = new Float32Array(V * V);
    const dValue = new Float32Array(V);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const token = batch.tokens[i]!;
        if (upstream.values !== undefined) dValue[token]! += upstream.values[i]!;
        if (t === 0) continue;
        const gLogprob = upstream.logprobs?.[i] ?? 0;
        const gEntropy = upstream.entropies?.[i] ?? 0;
        if (gLogprob === 0 && gEntropy === 0) continue;
        const prev = batch.tokens[i - 1]!;
        const p = this.distribution(prev);
        let entropy = 0;
        for (const pj of p) if (pj > 0) entropy -= pj * Math.log(pj);
        for (let j = 0; j < V; j++) {
          // d logp(token)/dz_j = 1[j = token] − p_j;  dH/dz_j = −p_j (log p_j + H).
          const dLogprob = (j === token ? 1 : 0) - p[j]!;
          const dEntropy = p[j]! > 0 ? -p[j]! * (Math.log(p[j]!) + entropy) : 0;
          dTable[prev * V + j]! += gLogprob * dLogprob + gEntropy * dEntropy;
        }
      }
    }
    return new Map([
      ['bigram.weight', dTable],
      ['value.weight', dValue],
    ]);
  }
}
