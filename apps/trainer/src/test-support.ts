// Shared setup of the trainer's tests: a random tiny Qwen2 model folder on the project's own
// tokenizer, and a small toy world with its BM25 index, both in a temporary folder.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { materializeWorld } from './toy-setup.js';

export { tinyModelFolder } from '@sr1/model/testing';

/** The small tokenizer's vocabulary with the tiny test model's shapes. */
export const TINY_CONFIG = tinyQwen2ForSmallTokenizer();

export async function tinyWorld(seed = 7) {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-tiny-world-'));
  return materializeWorld(dir, { seed, people: 12, questionsPerType: 4 });
}
