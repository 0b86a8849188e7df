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

/**
 * The sampling fields of a generation (`GenerateOptions`) or a session turn (`TurnOptions`), each
 * optional; `samplingParams` fills in the defaults and validates them.
 */
export interface SamplingOptions {
  /** 0 = greedy. Default 1 (sample from the model as it is, as RL rollouts do). */
  temperature?: number;
  /** 0 = off (default). */
  topK?: number;
  /** 1 = off (default). */
  topP?: number;
}

/** `options` with the defaults filled in, validated; `field` prefixes the option's name in errors. */
export function samplingParams(options: SamplingOptions, field: string): SamplingParams {
  const params: SamplingParams = {
    temperature: options.temperature ?? 1,
    topK: options.topK ?? 0,
    topP: options.topP ?? 1,
  };
  validateSamplingParams(params, field);
  return params;
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

  let candidates: number[] | null = null; // ids that survive truncation
  if (params.topK > 0 && params.topK < vocab) {
    candidates = topKIds(weights, params.topK); // most likely first
  }
  if (params.topP < 1) {
    if (candidates !== null) {
      let mass = 0;
      for (const id of candidates) mass += weights[id]!;
      let cumulative = 0;
      let keep = 0;
      while (keep < candidates.length) {
        cumulative += weights[candidates[keep]!]!;
        keep++;
        if (cumulative >= params.topP * mass) break;
      }
      candidates = candidates.slice(0, keep);
    } else {
      candidates = topPIds(weights, params.topP * total);
    }
  }
  // The survivors are walked in id order, so sampling never needs them sorted by probability.
  if (params.topK > 0 && candidates !== null) candidates.sort((a, b) => a - b);
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

/** Descending weight, ties to the lower id. */
function byWeight(weights: Float64Array): (a: number, b: number) => number {
  return (a, b) => weights[b]! - weights[a]! || a - b;
}

/**
 * The top-p set: the fewest most likely ids (ties: lower ids first) whose weight reaches
 * `needed`, in id order. Only ids above a threshold are looked at, lowering it until they hold
 * enough (exact: every id left out weighs less than every id kept), and only their weights are
 * sorted, as a typed array.
 */
function topPIds(weights: Float64Array, needed: number): number[] {
  // weights are exp((logit - max) / T), so the largest is exactly 1
  for (let threshold = 1e-3; ; threshold *= 1e-3) {
    const last = threshold < 1e-300; // take everything
    const ids: number[] = [];
    let mass = 0;
    for (let j = 0; j < weights.length; j++) {
      if (last || weights[j]! >= threshold) {
        ids.push(j);
        mass += weights[j]!;
      }
    }
    if (mass < needed && !last) continue;
    const values = new Float64Array(ids.length);
    for (let i = 0; i < ids.length; i++) values[i] = weights[ids[i]!]!;
    values.sort(); // ascending
    let cumulative = 0;
    let cut = values.length - 1;
    for (; cut > 0; cut--) {
      cumulative += values[cut]!;
      if (cumulative >= needed) break;
    }
    const cutoff = values[cut]!;
    let ties = 0; // how many ids weighing exactly `cutoff` are kept
    for (let i = cut; i < values.length && values[i] === cutoff; i++) ties++;
    const kept: number[] = [];
    for (const id of ids) {
      const weight = weights[id]!;
      if (weight > cutoff || (weight === cutoff && ties-- > 0)) kept.push(id);
    }
    return kept; // in id order
  }
}

/** The k most likely ids, sorted (a size-k min-heap over one pass). */
function topKIds(weights: Float64Array, k: number): number[] {
  const heap: number[] = []; // min-heap by weight (ties: higher id is "smaller", so lower ids win)
  const less = (a: number, b: number) => weights[a]! < weights[b]! || (weights[a] === weights[b] && a > b);
  const siftDown = (start: number) => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && less(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && less(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  };
  for (let j = 0; j < weights.length; j++) {
    if (heap.length < k) {
      heap.push(j);
      let i = heap.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!less(heap[i]!, heap[parent]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (less(heap[0]!, j)) {
      heap[0] = j;
      siftDown(0);
    }
  }
  return heap.sort(byWeight(weights));
}
