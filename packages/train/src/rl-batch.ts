// Lays RL samples (prompt + response, with the sampled mask) out as the engine's right-padded
// token batch and as the RL maths' (batch, responseLength) matrices, and maps between the two.

import { InvalidInputError } from '@sr1/core';
import { makeTokenBatch, type TokenBatch } from './policy.js';

/** One finished trajectory, ready for an RL update. */
export interface RlSample {
  /** Unique id of the prompt; samples of one prompt form a GRPO group. */
  promptId: string;
  promptTokens: readonly number[];
  /** Response tokens as sampled, with inserted blocks (information, invalid-action text). */
  responseTokens: readonly number[];
  /** 1 = sampled by the policy, 0 = inserted by the system; same length as responseTokens. */
  sampledMask: readonly number[];
  /** Scalar outcome reward, placed on the last response token. */
  reward: number;
}

/** A batch of samples in both layouts. */
export interface RlBatch {
  samples: readonly RlSample[];
  tokens: TokenBatch;
  /** Responses are R wide; row b's response token t sits at full position promptLengths[b] + t. */
  responseLength: number;
  promptLengths: Int32Array;
  /** 1 for every real response token (what the critic and the advantages see), shape (batch, R). */
  tokenMask: Float64Array;
  /** 1 for tokens the policy sampled only (what the actor loss sees), shape (batch, R). */
  sampledMask: Float64Array;
}

export function buildRlBatch(samples: readonly RlSample[]): RlBatch {
  if (samples.length === 0) {
    throw new InvalidInputError({ field: 'samples', reason: 'an RL batch needs at least one sample' });
  }
  samples.forEach((sample, i) => {
    if (sample.sampledMask.length !== sample.responseTokens.length) {
      throw new InvalidInputError({
        field: `samples[${i}].sampledMask`,
        reason: `sample ${i}: sampledMask has ${sample.sampledMask.length} entries for ${sample.responseTokens.length} tokens`,
      });
    }
    if (sample.promptTokens.length === 0) {
      throw new InvalidInputError({
        field: `samples[${i}].promptTokens`,
        reason: `sample ${i}: empty prompt`,
      });
    }
  });
  const tokens = makeTokenBatch(samples.map((s) => [...s.promptTokens, ...s.responseTokens]));
  const responseLength = Math.max(1, ...samples.map((s) => s.responseTokens.length));
  const tokenMask = new Float64Array(samples.length * responseLength);
  const sampledMask = new Float64Array(samples.length * responseLength);
  const promptLengths = new Int32Array(samples.length);
  samples.forEach((sample, b) => {
    promptLengths[b] = sample.promptTokens.length;
    sample.responseTokens.forEach((_, t) => {
      tokenMask[b * responseLength + t] = 1;
      sampledMask[b * responseLength + t] = sample.sampledMask[t]!;
    });
  });
  return { samples, tokens, responseLength, promptLengths, tokenMask, sampledMask };
}

/**
 * Gathers a full (batch, T) per-token array into (batch, R) response order. `shift` = -1 takes the
 * value at the position before each response token (a critic's value of the state that chose it).
 */
export function gatherResponse(batch: RlBatch, full: ArrayLike<number>, shift: 0 | -1 = 0): Float64Array {
  const { responseLength: R } = batch;
  const T = batch.tokens.length;
  const out = new Float64Array(batch.samples.length * R);
  batch.samples.forEach((sample, b) => {
    for (let t = 0; t < sample.responseTokens.length; t++) {
      out[b * R + t] = full[b * T + batch.promptLengths[b]! + t + shift]!;
    }
  });
  return out;
}

/** The inverse of gatherResponse for gradients: (batch, R) → a zeroed full (batch, T) array. */
export function scatterResponse(
  batch: RlBatch,
  response: ArrayLike<number>,
  shift: 0 | -1 = 0,
): Float32Array {
  const { responseLength: R } = batch;
  const T = batch.tokens.length;
  const out = new Float32Array(batch.samples.length * T);
  batch.samples.forEach((sample, b) => {
    for (let t = 0; t < sample.responseTokens.length; t++) {
      out[b * T + batch.promptLengths[b]! + t + shift] = response[b * R + t]!;
    }
  });
  return out;
}
