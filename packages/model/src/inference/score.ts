// Per-token log-probabilities and entropies of given sequences under a model, batched: the
// primitive RL uses for old-policy and reference log-probs (one prefill with full logits).

import { InvalidInputError } from '@sr1/core';
import type { DecoderRunner } from '../engine-types.js';
import { logProbAndEntropy } from './sampling.js';

export interface ScoreOptions {
  /** Logits are divided by it before softmax (use the rollout's temperature, as veRL does). Default 1. */
  temperature?: number;
  /** Sequences per prefill (full logits are (batch, length, vocab) floats). Default 8. */
  batchSize?: number;
  /** Pad id used for the left padding (masked out, never scored). Default 0. */
  padTokenId?: number;
}

export interface ScoredSequence {
  tokenIds: number[];
  /** logprobs[i] = log P(tokens[i] | tokens[<i]); null at i = 0 (nothing predicts the first token). */
  logprobs: (number | null)[];
  /** entropies[i] = entropy of the distribution that predicted tokens[i]; null at i = 0. */
  entropies: (number | null)[];
}

/**
 * Scores token sequences: one left-padded prefill per micro-batch returning all logits, then
 * log-softmax at each next token.
 * @param sequences - token ids, each of length ≥ 1
 */
export async function scoreSequences(
  runner: DecoderRunner,
  sequences: readonly (readonly number[])[],
  options: ScoreOptions = {},
): Promise<ScoredSequence[]> {
  const temperature = options.temperature ?? 1;
  const batchSize = options.batchSize ?? 8; // bounds the (batch, length, vocab) logits buffer
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new InvalidInputError({ field: 'score.temperature', reason: 'must be a number > 0' });
  }
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidInputError({ field: 'score.batchSize', reason: 'must be an integer ≥ 1' });
  }
  const vocab = runner.config.vocabSize;
  const padTokenId = options.padTokenId ?? 0;
  if (!Number.isInteger(padTokenId) || padTokenId < 0 || padTokenId >= vocab) {
    throw new InvalidInputError({ field: 'score.padTokenId', reason: `must be a token id in [0, ${vocab})` });
  }
  sequences.forEach((sequence, index) => {
    if (sequence.length === 0)
      throw new InvalidInputError({ field: `sequences[${index}]`, reason: 'is empty' });
    if (sequence.length > runner.config.maxPositionEmbeddings) {
      throw new InvalidInputError({
        field: `sequences[${index}]`,
        reason: `has ${sequence.length} tokens; the model holds at most ${runner.config.maxPositionEmbeddings}`,
      });
    }
    sequence.forEach((id, position) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidInputError({
          field: `sequences[${index}][${position}]`,
          reason: `token id ${id} is outside the vocabulary [0, ${vocab})`,
        });
      }
    });
  });
  const results: ScoredSequence[] = [];
  for (let start = 0; start < sequences.length; start += batchSize) {
    const chunk = sequences.slice(start, start + batchSize);
    const batch = chunk.length;
    const width = Math.max(...chunk.map((sequence) => sequence.length));
    const inputIds = new BigInt64Array(batch * width).fill(BigInt(padTokenId));
    const attentionMask = new BigInt64Array(batch * width);
    const positionIds = new BigInt64Array(batch * width);
    chunk.forEach((sequence, b) => {
      const offset = width - sequence.length;
      sequence.forEach((id, j) => {
        inputIds[b * width + offset + j] = BigInt(id);
        attentionMask[b * width + offset + j] = 1n;
        positionIds[b * width + offset + j] = BigInt(j);
      });
    });
    const { logits } = await runner.prefill(
      { inputIds, batchSize: batch, newLength: width, attentionMask, positionIds },
      { lastOnly: false },
    ); // (batch, width, vocab)
    chunk.forEach((sequence, b) => {
      const offset = width - sequence.length;
      const logprobs: (number | null)[] = [null];
      const entropies: (number | null)[] = [null];
      for (let i = 1; i < sequence.length; i++) {
        const row = (b * width + offset + i - 1) * vocab;
        const { logprob, entropy } = logProbAndEntropy(
          logits.subarray(row, row + vocab),
          sequence[i]!,
          temperature,
        );
        logprobs.push(logprob);
        entropies.push(entropy);
      }
      results.push({ tokenIds: [...sequence], logprobs, entropies });
    });
  }
  return results;
}
