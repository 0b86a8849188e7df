// Choosing the next token from one row of logits: greedy, temperature, top-k and top-p with a
// seeded Rng, and the log-probability RL needs for the token that was chosen.

import { InvalidInputError, type Rng } from '@sr1/core';

/** How the next token is chosen. */
export interface SamplingParams {
  /** 0 = greedy (argmax); otherwise logits are divided by it before softmax. */
  temperature: number;
  /** Keep only the k most likely tokens; 0 = off. */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off. */
  topP: number;
}

/** The chosen token and its log-probability. */
export interface SampledToken {
  tokenId: number;
  /**
   * log π(token) under softmax(logits / temperature) — after temperature, BEFORE top-k/top-p
   * truncation (what veRL recomputes as the old-policy log-prob). Greedy uses temperature 1.
   */
  logprob: number;
}

/** Checks ranges; `field` prefixes name the option in errors. */
export function validateSamplingParams(params: SamplingParams, field = 'sampling'): void {
  const bad = (name: string, reason: string) => {
    throw new InvalidInputError({ code: 'sampling_params', field: `${field}.${name}`, reason });
  };
  if (!Number.isFinite(params.temperature) || params.temperature < 0)
    bad('temperature', 'must be a number ≥ 0');
  if (!Number.isInteger(params.topK) || params.topK < 0) bad('topK', 'must be an integer ≥ 0 (0 = off)');
  if (!(params.topP > 0 && params.topP <= 1)) bad('topP', 'must be in (0, 1] (1 = off)');
}

/**
 * log-softmax(logits / temperature) at one index, computed stably.
 * @param logits - one row, shape (vocab)
 */
export function logSoftmaxAt(logits: Float32Array, index: number, temperature = 1): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < logits.length; j++) if (logits[j]! > max) max = logits[j]!;
  let sum = 0;
  for (let j = 0; j < logits.length; j++) sum += Math.exp((logits[j]! - max) / temperature);
  return (logits[index]! - max) / temperature - Math.log(sum);
}

/** log-softmax at one index and the entropy of the whole distribution, in one pass over the row. */
export function logProbAndEntropy(
  logits: Float32Array,
  index: number,
  temperature = 1,
): { logprob: number; entropy: number } {
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < logits.length; j++) if (logits[j]! > max) max = logits[j]!;
  let sum = 0;
  let weighted = 0;
  for (let j = 0; j < logits.length; j++) {
    const z = (logits[j]! - max) / temperature;
    const e = Math.exp(z);
    sum += e;
    weighted += e * z;
  }
  const logZ = Math.log(sum);
  // H = -Σ p log p = logZ - Σ p z
  return { logprob: (logits[index]! - max) / temperature - logZ, entropy: logZ - weighted / sum };
}

/**
 * Picks the next token from one row of logits (HF order: temperature, then top-k, then top-p on
 * the renormalised survivors). Ties in greedy go to the lowest id.
 * @param logits - shape (vocab)
 */
export function sampleToken(logits: Float32Array, params: SamplingParams, rng: Rng): SampledToken {
  const vocab = logits.length;
  if (params.temperature === 0) {
    let best = 0;
    for (let j = 1; j < vocab; j++) if (logits[j]! > logits[best]!) best = j;
    return { tokenId: best, logprob: logSoftmaxAt(logits, best, 1) };
  }
  const t = params.temperature;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < vocab; j++) if (logits[j]! > max) max = logits[j]!;
  const weights = new Float64Array(vocab); // exp((logit - max) / t), unnormalised probabilities
  let total = 0;
  for (let j = 0; j < vocab; j++) {
    weights[j] = Math.exp((logits[j]! - max) / t);
    total += weights[j]!;
  }
  const logTotal = Math.log(total);
  const logprobOf = (id: number) => (logits[id]! - max) / t - logTotal;

  let candidates: number[] | null = null; // ids that survive truncation, most likely first
  if (params.topK > 0 && params.topK < vocab) {
    candidates = sortedIds(weights).slice(0, params.topK);
  }
  if (params.topP < 1) {
    const ordered = candidates ?? sortedIds(weights);
    let mass = 0;
    for (const id of ordered) mass += weights[id]!;
    let cumulative = 0;
    let keep = 0;
    while (keep < ordered.length) {
      cumulative += weights[ordered[keep]!]!;
      keep++;
      if (cumulative >= params.topP * mass) break;
    }
    candidates = ordered.slice(0, keep);
  }
  const u = rng.next();
  if (candidates === null) {
    let target = u * total;
    for (let j = 0; j < vocab; j++) {
      target -= weights[j]!;
      if (target < 0) return { tokenId: j, logprob: logprobOf(j) };
    }
    // rounding left a sliver: take the last token with any weight
    let last = vocab - 1;
    while (last > 0 && weights[last] === 0) last--;
    return { tokenId: last, logprob: logprobOf(last) };
  }
  let mass = 0;
  for (const id of candidates) mass += weights[id]!;
  let target = u * mass;
  for (const id of candidates) {
    target -= weights[id]!;
    if (target < 0) return { tokenId: id, logprob: logprobOf(id) };
  }
  const fallback = candidates[candidates.length - 1]!;
  return { tokenId: fallback, logprob: logprobOf(fallback) };
}

/** Token ids by descending weight (ties: lower id first). */
function sortedIds(weights: Float64Array): number[] {
  const ids = Array.from({ length: weights.length }, (_, i) => i);
  return ids.sort((a, b) => weights[b]! - weights[a]! || a - b);
}
