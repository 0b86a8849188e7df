// Shared setup of the trainer's tests: a random tiny Qwen2 model folder on the project's own
// tokenizer, and a small toy world with its BM25 index, both in a temporary folder.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@sr1/core';
import { type DecoderConfig, initWeights, saveModelFolder } from '@sr1/model';
import { materializeWorld } from './toy-setup.js';

export const TOKENIZER_DIR = fileURLToPath(
  new URL('../../../packages/model/assets/tokenizer-small', import.meta.url),
);

export const TINY_CONFIG: DecoderConfig = {
  modelType: 'qwen2',
  vocabSize: 2048,
  hiddenSize: 32,
  intermediateSize: 64,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 8,
  ropeTheta: 10000,
  rmsNormEps: 1e-6,
  tieWordEmbeddings: true,
  attentionBias: true,
  outputBias: false,
  mlpBias: false,
  maxPositionEmbeddings: 1024,
  bosTokenId: null,
  eosTokenIds: [2047],
};

export async function tinyModelFolder(seed = 1): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-tiny-model-'));
  await saveModelFolder(
    dir,
    { config: TINY_CONFIG, weights: initWeights(TINY_CONFIG, createRng(seed)) },
    { tokenizerDir: TOKENIZER_DIR },
  );
  return dir;
}

export async function tinyWorld(seed = 7) {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-tiny-world-'));
  return materializeWorld(dir, { seed, people: 12, questionsPerType: 4 });
}
