// Test support (not exported): small corpora cut from the shared real Wikipedia corpus.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared data folder (`../shared/data` beside the repository root). */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));

/** The first `count` lines of the shared corpus, and a temp file holding exactly them. */
export function sampleCorpus(count: number): { dir: string; file: string; lines: string[] } {
  const lines = readFileSync(join(SHARED_DATA_DIR, 'corpus.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .slice(0, count);
  const dir = mkdtempSync(join(tmpdir(), 'sr1-retriever-'));
  const file = join(dir, 'corpus.jsonl');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { dir, file, lines };
}
