import { join } from 'node:path';
import { InProcessRetriever } from '@sr1/retriever';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDatasets, readSupportingPassages } from './datasets.js';
import {
  answerInText,
  measureRetrievalQuality,
  renderRetrievalQualityMarkdown,
} from './retrieval-quality.js';
import { SHARED_DATA_DIR, sharedCorpusIndex } from './testing/index.js';

describe('answerInText', () => {
  it('matches normalised gold answers as whole tokens', () => {
    expect(answerInText(['The Beatles'], '"Band"\nbeatles, a band')).toBe(true);
    expect(answerInText(['1972'], 'in December 1972.')).toBe(true);
    expect(answerInText(['72'], 'in December 1972.')).toBe(false); // not a whole token
    expect(answerInText(['the', 'a'], 'the a an')).toBe(false); // answers that normalise to nothing
  });
});

describe('measureRetrievalQuality over a real hybrid index', () => {
  let index: { dir: string };
  const retrievers: InProcessRetriever[] = [];
  beforeAll(async () => {
    index = await sharedCorpusIndex(300, 'hybrid');
  }, 120_000);
  afterAll(async () => {
    await Promise.all(retrievers.map((r) => r.close()));
  });

  it('computes recall@k of labelled passages and the answer-in-passages rate, per method', async () => {
    const datasets = await loadDatasets([
      join(SHARED_DATA_DIR, 'nq.jsonl'),
      join(SHARED_DATA_DIR, 'triviaqa.jsonl'),
    ]);
    const supporting = readSupportingPassages(join(SHARED_DATA_DIR, 'supporting.jsonl'));
    const byMethod: Record<string, Awaited<ReturnType<typeof measureRetrievalQuality>>> = {};
    for (const method of ['bm25', 'dense', 'hybrid'] as const) {
      const retriever = await InProcessRetriever.open(index.dir, { method, exact: true });
      retrievers.push(retriever);
      byMethod[method] = await measureRetrievalQuality({
        datasets,
        retriever,
        supporting,
        limit: 30,
        batchSize: 7,
      });

      // A plain recomputation of the NQ numbers, question by question.
      const nq = datasets[0]!.questions.slice(0, 30);
      const hits = await retriever.search(
        nq.map((q) => q.question),
        10,
      );
      let recall3 = 0;
      let labelled = 0;
      let answer10 = 0;
      nq.forEach((q, i) => {
        const gold = supporting.get('nq')?.get(q.id);
        if (gold !== undefined) {
          labelled++;
          const top = hits[i]!.slice(0, 3).map((h) => h.id);
          recall3 += gold.filter((id) => top.includes(id)).length / gold.length;
        }
        if (hits[i]!.some((h) => answerInText(q.golden_answers, h.contents))) answer10++;
      });
      const [nqQuality, triviaQuality] = byMethod[method]!;
      expect(nqQuality!.labelled).toBe(labelled);
      expect(nqQuality!.recall![3]).toBeCloseTo(recall3 / labelled, 12);
      expect(nqQuality!.answerInPassages[10]).toBeCloseTo(answer10 / 30, 12);
      expect(nqQuality!.recall![1]!).toBeLessThanOrEqual(nqQuality!.recall![3]!);
      expect(nqQuality!.recall![3]!).toBeLessThanOrEqual(nqQuality!.recall![10]!);
      expect(triviaQuality!.recall).toBeNull(); // TriviaQA has no labels
      expect(triviaQuality!.labelled).toBe(0);
    }
    // The NQ gold passages are in this small corpus: BM25 finds most of them in its top 10.
    expect(byMethod.bm25![0]!.recall![10]).toBeGreaterThan(0.5);
    const markdown = renderRetrievalQualityMarkdown(byMethod);
    expect(markdown).toContain(
      '| retriever | dataset | questions | labelled | recall@1 | recall@3 | recall@10 |',
    );
    expect(markdown.trim().split('\n')).toHaveLength(2 + 6);
  }, 120_000);
});
