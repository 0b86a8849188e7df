// Tiny decoder configs shared by this package's tests (not part of the public API).

import type { DecoderConfig } from '../engine-types.js';

/** A tiny qwen2: GQA (4 heads over 2 kv heads), q/k/v biases, tied embeddings. */
export function tinyQwen2(vocabSize = 64): DecoderConfig {
  return {
    modelType: 'qwen2',
    vocabSize,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 4,
    ropeTheta: 10000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
    attentionBias: true,
    outputBias: false,
    mlpBias: false,
    maxPositionEmbeddings: 128,
    bosTokenId: null,
    eosTokenIds: [0],
  };
}

/** A tiny llama with every bias and an untied lm_head. */
export function tinyLlama(vocabSize = 64): DecoderConfig {
  return {
    ...tinyQwen2(vocabSize),
    modelType: 'llama',
    tieWordEmbeddings: false,
    attentionBias: true,
    outputBias: true,
    mlpBias: true,
    headDim: 8,
    bosTokenId: 1,
    eosTokenIds: [0, 2],
  };
}
