import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SMALL_TOKENIZER } from '../testing/index.js';
import { SHARED_DATA_DIR } from '../testing/test-paths.js';
import { trainBpeTokenizer } from './bpe-trainer.js';
import { readTokenizerTrainingTexts } from './tokenizer-corpus.js';

describe('assets/tokenizer-small', () => {
  it('is exactly what the trainer produces from the shared data (the fixture is reproducible)', async () => {
    const texts = await readTokenizerTrainingTexts({
      corpusFiles: [join(SHARED_DATA_DIR, 'corpus.jsonl')],
      questionFiles: [join(SHARED_DATA_DIR, 'nq.jsonl'), join(SHARED_DATA_DIR, 'hotpotqa.jsonl')],
    });
    const trained = trainBpeTokenizer(texts, { vocabSize: 2048 });
    const committed = JSON.parse(await readFile(join(SMALL_TOKENIZER, 'tokenizer.json'), 'utf8'));
    expect(trained.tokenizerJson).toEqual(committed);
  });
});
