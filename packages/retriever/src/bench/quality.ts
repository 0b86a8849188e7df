// `bench quality`: recall@1/3/10 of the labelled supporting passages (shared `supporting.jsonl`)
// for BM25, hashing-dense and hybrid over one hybrid index of the shared corpus.

import type { RetrievalIndex, SearchMethod } from '../index-folder.js';
import { readQuestions, readSupporting } from './data.js';

/** Recall of one method on one dataset. */
export interface QualityRow {
  dataset: string;
  method: SearchMethod;
  questions: number;
  /** mean over questions of |gold ∩ top-k| / |gold| */
  recall: Record<1 | 3 | 10, number>;
}

const DATASETS = ['hotpotqa', '2wikimultihopqa', 'musique', 'popqa', 'nq'] as const;

export async function measureQuality(index: RetrievalIndex, dataDir: string): Promise<QualityRow[]> {
  const supporting = readSupporting(dataDir);
  const questions = readQuestions(dataDir);
  const rows: QualityRow[] = [];
  for (const dataset of DATASETS) {
    const labels = supporting.get(dataset);
    if (labels === undefined) continue;
    const labelled = questions.filter((question) => question.dataset === dataset && labels.has(question.id));
    for (const method of ['bm25', 'dense', 'hybrid'] as const) {
      const ranked = await index.search(
        labelled.map((question) => question.question),
        10,
        method,
      );
      const sums = { 1: 0, 3: 0, 10: 0 };
      labelled.forEach((question, q) => {
        const gold = new Set(labels.get(question.id)!);
        const ids = ranked[q]!.map((hit) => index.docs.get(hit.index).id);
        for (const k of [1, 3, 10] as const) {
          sums[k] += ids.slice(0, k).filter((id) => gold.has(id)).length / gold.size;
        }
      });
      const n = Math.max(labelled.length, 1);
      rows.push({
        dataset,
        method,
        questions: labelled.length,
        recall: { 1: sums[1] / n, 3: sums[3] / n, 10: sums[10] / n },
      });
    }
  }
  return rows;
}
