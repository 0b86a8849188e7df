import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meanPool, OnnxEncoder } from './onnx-encoder.js';
import { writeTinyModelFolder } from './tiny-model.js';

const corpusFile = new URL('../../../../shared/data/corpus.jsonl', import.meta.url);
const texts = readFileSync(corpusFile, 'utf8')
  .split('\n')
  .slice(0, 300)
  .filter((line) => line.length > 0)
  .map((line) => (JSON.parse(line) as { contents: string }).contents);

let root: string;
let encoder: OnnxEncoder;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sr1-onnx-'));
  writeTinyModelFolder(join(root, 'tiny-e5'), { texts, hidden: 32, seed: 3 });
  encoder = await OnnxEncoder.load({ modelDir: join(root, 'tiny-e5'), batchSize: 4 });
});

afterAll(async () => {
  await encoder?.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe('meanPool', () => {
  it('averages only the positions the mask keeps', () => {
    // (batch 2, sequence 3, hidden 2)
    const hidden = [1, 2, 3, 4, 100, 100, 5, 6, 100, 100, 100, 100];
    const mask = [1n, 1n, 0n, 1n, 0n, 0n];
    expect([...meanPool(hidden, mask, 2, 3, 2)]).toEqual([2, 3, 5, 6]);
  });
});

describe('OnnxEncoder on a tiny local model', () => {
  it('reads the dimension from the model and returns unit vectors', async () => {
    expect(encoder.dimension).toBe(32);
    const vectors = await encoder.encode(['Moon landing', 'The Hollies recorded a ballad'], 'query');
    expect(vectors.length).toBe(64);
    for (let row = 0; row < 2; row++) {
      let norm = 0;
      for (let d = 0; d < 32; d++) norm += vectors[row * 32 + d]! ** 2;
      expect(norm).toBeCloseTo(1, 5);
    }
    expect(encoder.id).toMatch(/^onnx:tiny-e5:[0-9a-f]{12}:mean:/);
  });

  it('gives the same vector in a padded batch as alone (pooling respects the mask)', async () => {
    const short = 'moon';
    const long = 'the united states is the only country to have conducted manned missions to the moon';
    const alone = await encoder.encode([short], 'passage');
    const batched = await encoder.encode([long, short, long, long, short], 'passage');
    for (let d = 0; d < 32; d++) expect(batched[32 + d]).toBeCloseTo(alone[d]!, 5);
  });

  it('applies the query and passage prefixes', async () => {
    const asQuery = await encoder.encode(['moon landing'], 'query');
    const asPassage = await encoder.encode(['moon landing'], 'passage');
    let difference = 0;
    for (let d = 0; d < 32; d++) difference += Math.abs(asQuery[d]! - asPassage[d]!);
    expect(difference).toBeGreaterThan(1e-3);
  });

  it('refuses a folder without a model', async () => {
    await expect(OnnxEncoder.load({ modelDir: join(root, 'missing') })).rejects.toThrow(
      /config\.json.*missing/,
    );
  });
});
