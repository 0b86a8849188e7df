import { describe, expect, it } from 'vitest';
import { HashingEncoder, HashingIdfFitter } from './hashing-encoder.js';
import { sampleCorpus } from './test-corpus.js';

const texts = sampleCorpus(300).lines.map((line) => (JSON.parse(line) as { contents: string }).contents);

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i]! * b[i]!;
  return dot;
}

describe('HashingEncoder', () => {
  const fitter = new HashingIdfFitter();
  for (const text of texts) fitter.add(text);
  const encoder = new HashingEncoder({ dimension: 256, idf: fitter.finish() });

  it('returns unit vectors of the fixed dimension, deterministically', async () => {
    const vectors = await encoder.encode(['the moon landing', 'a ballad by the Hollies', ''], 'query');
    expect(vectors.length).toBe(3 * 256);
    expect(cosine(vectors.subarray(0, 256), vectors.subarray(0, 256))).toBeCloseTo(1, 5);
    expect(cosine(vectors.subarray(512), vectors.subarray(512))).toBe(0); // empty text → zero vector
    const again = await encoder.encode(['the moon landing'], 'passage');
    expect([...again]).toEqual([...vectors.subarray(0, 256)]);
  });

  it('is lexical: shared words and word pieces raise similarity', () => {
    const [moon, moons, ballad] = [
      encoder.encodeSync(['manned missions to the Moon']),
      encoder.encodeSync(['mission to the moons']),
      encoder.encodeSync(['popular music ballad']),
    ] as const;
    expect(cosine(moon, moons)).toBeGreaterThan(cosine(moon, ballad) + 0.2);
  });

  it('weights rare features above common ones and names its IDF in the id', () => {
    const plain = new HashingEncoder({ dimension: 256 });
    expect(plain.id).toBe('hashing-v1:d256:idf-tf');
    expect(encoder.id).toMatch(/^hashing-v1:d256:idf-[0-9a-f]{12}$/);
    const query = encoder.encodeSync(['the Hollies ballad']);
    const rare = encoder.encodeSync(['Hollies']);
    const common = encoder.encodeSync(['the']);
    expect(cosine(query, rare)).toBeGreaterThan(cosine(query, common));
  });
});
