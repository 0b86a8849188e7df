// The seam between training loops and the engine (@sr1/spec's `TrainablePolicy`: a policy that
// scores a token batch and turns per-token upstream gradients into parameter gradients), and the
// helper that builds its token batches. Loss maths stays in TypeScript on this side of it.

import { InvalidInputError } from '@sr1/core';
import type { TokenBatch } from '@sr1/spec';

// The seam is declared in @sr1/spec (so @sr1/model implements it without depending on train);
// re-exported for this package's modules and users.
export type { PolicyForward, TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from '@sr1/spec';

/** Builds a right-padded batch from token sequences (padding id 0). */
export function makeTokenBatch(sequences: readonly (readonly number[])[], length?: number): TokenBatch {
  const batchSize = sequences.length;
  const width = length ?? Math.max(1, ...sequences.map((sequence) => sequence.length));
  const tokens = new Int32Array(batchSize * width);
  const attentionMask = new Uint8Array(batchSize * width);
  sequences.forEach((sequence, row) => {
    if (sequence.length > width) {
      throw new InvalidInputError({
        field: `sequences[${row}]`,
        reason: `sequence ${row} has ${sequence.length} tokens > batch length ${width}`,
      });
    }
    sequence.forEach((token, t) => {
      tokens[row * width + t] = token;
      attentionMask[row * width + t] = 1;
    });
  });
  return { tokens, batchSize, length: width, attentionMask };
}
