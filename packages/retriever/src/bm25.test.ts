import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from './analysis.js';
import { Bm25Builder, Bm25Index } from './bm25.js';
import { sampleCorpus } from './test-corpus.js';

const sample = sampleCorpus(300);
const texts = sample.lines.map((line) => (JSON.parse(line) as { contents: string }).contents);
afterAll(() => rmSync(sample.dir, { recursive: true, force: true }));

function build(dir: string, budget: number, parameters = { k1: 0.9, b: 0.4 }) {
  const builder = new Bm25Builder(dir, { ...parameters, memoryBudgetPostings: budget });
  for (const text of texts) builder.add(text);
  return builder.finish();
}

/** Plain Lucene BM25 over the analysed texts, no index: the reference the index must match. */
function referenceScores(query: string, k1: number, b: number): number[] {
  const docs = texts.map(analyze);
  const average = docs.reduce((sum, doc) => sum + doc.length, 0) / docs.length;
  const queryTerms = analyze(query);
  return docs.map((doc) => {
    let score = 0;
    for (const term of queryTerms) {
      const df = docs.filter((d) => d.includes(term)).length;
      if (df === 0) continue;
      const tf = doc.filter((t) => t === term).length;
      if (tf === 0) continue;
      const idf = Math.log(1 + (docs.length - df + 0.5) / (df + 0.5));
      score += (idf * tf) / (tf + k1 * (1 - b + (b * doc.length) / average));
    }
    return score;
  });
}

const queries = [
  'who was the first country to land on the moon',
  'Hollies ballad Bobby Scott Bob Russell',
  'what is the capital of France',
  'zzzz-not-a-word',
];

describe('BM25 index', () => {
  const single = join(sample.dir, 'single');
  const spilled = join(sample.dir, 'spilled');
  const statsSingle = build(single, 10_000_000);
  const statsSpilled = build(spilled, 997); // forces many runs and a real merge

  it('merging many runs gives the same index as one run', () => {
    expect(statsSpilled).toEqual(statsSingle);
    const a = Bm25Index.load(single);
    const b = Bm25Index.load(spilled);
    for (const query of queries) expect(b.search(query, 20)).toEqual(a.search(query, 20));
  });

  it.each(queries)('matches the plain Lucene formula for %j', (query) => {
    const index = Bm25Index.load(single);
    const expected = referenceScores(query, 0.9, 0.4)
      .map((score, doc) => ({ index: doc, score }))
      .filter((hit) => hit.score > 0)
      .sort((x, y) => y.score - x.score || x.index - y.index)
      .slice(0, 10);
    const got = index.search(query, 10);
    expect(got.map((hit) => hit.index)).toEqual(expected.map((hit) => hit.index));
    got.forEach((hit, rank) => {
      expect(hit.score).toBeCloseTo(expected[rank]!.score, 4);
    });
  });

  it('reads postings from disk exactly as from memory', () => {
    const memory = Bm25Index.load(single, { postingsInMemory: true });
    const disk = Bm25Index.load(single, { postingsInMemory: false });
    for (const query of queries) expect(disk.search(query, 15)).toEqual(memory.search(query, 15));
    disk.close();
  });

  it('finds the passage a question is about', () => {
    const index = Bm25Index.load(single);
    expect(index.search('He Ain’t Heavy, He’s My Brother', 1)[0]?.index).toBe(1);
    expect(index.search('', 5)).toEqual([]);
  });
});
