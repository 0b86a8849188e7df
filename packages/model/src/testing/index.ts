// Test support (the `@sr1/model/testing` subpath, and the helpers this package's own tests import):
// tiny decoder configs and a random tiny model folder on the project's own tokenizer — real models,
// small enough for unit tests.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@sr1/core';
import type { TokenBatch, Upstream } from '@sr1/spec';
import type { DecoderConfig } from '../engine-types.js';
import { saveModelFolder } from '../formats/model-folder.js';
import { initWeights } from '../formats/weights.js';
import { tinyQwen2 } from './test-configs.js';

/** Qwen2.5's chat template (Hermes tool calls), to put on the small tokenizer in tests of native tool calls. */
export { QWEN25_CHAT_TEMPLATE } from '../tokenizer/qwen25-chat-template.js';
export { tinyLlama, tinyQwen2 } from './test-configs.js';

/** The committed 2,048-token byte-level BPE tokenizer (`assets/tokenizer-small`). */
export const SMALL_TOKENIZER = fileURLToPath(new URL('../../assets/tokenizer-small', import.meta.url));

/** A tiny qwen2 sized for the small tokenizer (vocab 2048, eos `<|im_end|>` = 2047). */
export function tinyQwen2ForSmallTokenizer(): DecoderConfig {
  return {
    ...tinyQwen2(2048),
    hiddenSize: 32,
    intermediateSize: 64,
    headDim: 8,
    maxPositionEmbeddings: 1024,
    eosTokenIds: [2047],
  };
}

/** Writes a randomly initialised model folder (config, weights, the small tokenizer) to a temp dir. */
export async function tinyModelFolder(
  seed = 1,
  config: DecoderConfig = tinyQwen2ForSmallTokenizer(),
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-tiny-model-'));
  await saveModelFolder(
    dir,
    { config, weights: initWeights(config, createRng(seed)) },
    { tokenizerDir: SMALL_TOKENIZER },
  );
  return dir;
}

/** The training tests' tiny Qwen2: vocab 40, hidden 16 (4 heads of 4), 64 positions. */
export function tinyTrainQwen2(): DecoderConfig {
  return { ...tinyQwen2(40), hiddenSize: 16, intermediateSize: 24, headDim: 4, maxPositionEmbeddings: 64 };
}

/** A right-padded token batch of `rows`, each row's tokens attended (mask 1), `length` columns. */
export function tokenBatch(rows: readonly (readonly number[])[], length: number): TokenBatch {
  const tokens = new Int32Array(rows.length * length);
  const attentionMask = new Uint8Array(rows.length * length);
  rows.forEach((row, b) => {
    row.forEach((token, t) => {
      tokens[b * length + t] = token;
      attentionMask[b * length + t] = 1;
    });
  });
  return { tokens, attentionMask, batchSize: rows.length, length };
}

/**
 * Deterministic upstream gradients for `batch`: nonzero on attended tokens, zero on padding, with
 * entropy terms unless `withEntropy` is false.
 */
export function fixedUpstream(batch: TokenBatch, withEntropy = true): Upstream {
  const n = batch.batchSize * batch.length;
  const logprobs = new Float32Array(n);
  const entropies = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (batch.attentionMask[i] === 1) {
      logprobs[i] = ((i % 5) - 2) / 7;
      if (withEntropy) entropies[i] = ((i % 3) - 1) / 11;
    }
  }
  return withEntropy ? { logprobs, entropies } : { logprobs };
}
