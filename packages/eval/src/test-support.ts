// Test support (not exported): the shared data folder, a random tiny model folder on the project's
// tokenizer, and a real BM25 index over the first passages of the shared corpus.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@sr1/core';
import { type DecoderConfig, initWeights, saveModelFolder } from '@sr1/model';
import { buildIndex, type IndexKind } from '@sr1/retriever';

/** The shared data folder (`/work/shared/data`, beside the repository root). */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));

export const TOKENIZER_DIR = fileURLToPath(new URL('../../model/assets/tokenizer-small', import.meta.url));

/** A tiny Qwen2 shape: fast enough for tests, long enough a context for the agent loop. */
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
  maxPositionEmbeddings: 4096,
  bosTokenId: null,
  eosTokenIds: [2047],
};

/** Saves a randomly initialised tiny model (with the small tokenizer) into a temp folder. */
export async function tinyModelFolder(seed = 1): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sr1-eval-model-'));
  await saveModelFolder(
    dir,
    { config: TINY_CONFIG, weights: initWeights(TINY_CONFIG, createRng(seed)) },
    { tokenizerDir: TOKENIZER_DIR },
  );
  return dir;
}

/** Builds an index of `kind` over the first `count` shared-corpus passages. */
export async function sharedCorpusIndex(
  count: number,
  kind: IndexKind = 'bm25',
): Promise<{ dir: string; corpus: string }> {
  const root = mkdtempSync(join(tmpdir(), 'sr1-eval-index-'));
  const lines = readFileSync(join(SHARED_DATA_DIR, 'corpus.jsonl'), 'utf8').split('\n').slice(0, count);
  const corpus = join(root, 'corpus.jsonl');
  writeFileSync(corpus, `${lines.join('\n')}\n`);
  const dir = join(root, 'index');
  await buildIndex({ corpus, out: dir, kind });
  return { dir, corpus };
}
