// Test support (not exported): the shared data folder, a random tiny model folder on the project's
// tokenizer, and a real BM25 index over the first passages of the shared corpus.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecoderConfig } from '@sr1/model';
import { tinyModelFolder as makeTinyModelFolder, tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { buildIndex, type IndexKind } from '@sr1/retriever';

/** The shared data folder (`/work/shared/data`, beside the repository root). */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));

/** A tiny Qwen2 on the small tokenizer, with a context long enough for the agent loop. */
export const TINY_CONFIG: DecoderConfig = { ...tinyQwen2ForSmallTokenizer(), maxPositionEmbeddings: 4096 };

/** Saves a randomly initialised tiny model (with the small tokenizer) into a temp folder. */
export function tinyModelFolder(seed = 1): Promise<string> {
  return makeTinyModelFolder(seed, TINY_CONFIG);
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
