// Retrieval quality per dataset: recall@k of the labelled supporting passages (where the data has
// labels) and the answer-in-passages rate — a normalised gold answer contained, as whole tokens, in
// the normalised top-k passages — which bounds what RAG with that retriever can reach.

import { InvalidInputError } from '@sr1/core';
import { normalizeAnswer } from '@sr1/reward';
import type { Retriever, SearchHit } from '@sr1/rollout';
import type { EvalDataset, SupportingPassages } from './datasets.js';

/** Scores of one retriever on one dataset. */
export interface RetrievalQuality {
  dataset: string;
  questions: number;
  /** Questions with supporting-passage labels. */
  labelled: number;
  /** k → mean over labelled questions of |supporting ∩ top-k| / |supporting|; null without labels. */
  recall: Record<number, number> | null;
  /** k → share of questions with a gold answer in the top-k passages. */
  answerInPassages: Record<number, number>;
}

export interface RetrievalQualityOptions {
  datasets: readonly EvalDataset[];
  retriever: Retriever;
  supporting?: SupportingPassages;
  /** Cut-offs; default [1, 3, 10]. */
  ks?: readonly number[];
  /** Queries per retriever call. */
  batchSize?: number;
  /** First N questions of each dataset. */
  limit?: number;
  onProgress?: (done: number, total: number) => void;
}

export const RETRIEVAL_QUALITY_DEFAULTS = {
  ks: [1, 3, 10], // top-3 is the paper's setting; 1 and 10 bracket it
  batchSize: 64, // one encoder call per 64 queries; keeps memory flat
};

/**
 * Whether some gold answer, normalised (SQuAD style), occurs as whole tokens in the normalised
 * passage text. Answers that normalise to nothing never match.
 */
export function answerInText(goldAnswers: readonly string[], text: string): boolean {
  const passage = ` ${normalizeAnswer(text)} `;
  return goldAnswers.some((gold) => {
    const normalised = normalizeAnswer(gold);
    return normalised !== '' && passage.includes(` ${normalised} `);
  });
}

/** recall@k and answer-in-passages@k per dataset for one retriever. */
export async function measureRetrievalQuality(options: RetrievalQualityOptions): Promise<RetrievalQuality[]> {
  const ks = [...(options.ks ?? RETRIEVAL_QUALITY_DEFAULTS.ks)].sort((a, b) => a - b);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new InvalidInputError({
      field: 'ks',
      reason: `expected positive integers, got [${ks.join(', ')}]`,
    });
  }
  const depth = ks[ks.length - 1]!;
  const batchSize = options.batchSize ?? RETRIEVAL_QUALITY_DEFAULTS.batchSize;
  const total = options.datasets.reduce(
    (sum, d) =>
      sum + (options.limit === undefined ? d.questions.length : Math.min(options.limit, d.questions.length)),
    0,
  );
  let done = 0;
  const results: RetrievalQuality[] = [];
  for (const dataset of options.datasets) {
    const questions =
      options.limit === undefined ? dataset.questions : dataset.questions.slice(0, options.limit);
    const labels = options.supporting?.get(dataset.name);
    const recallSum = Object.fromEntries(ks.map((k) => [k, 0])) as Record<number, number>;
    const answerCount = Object.fromEntries(ks.map((k) => [k, 0])) as Record<number, number>;
    let labelled = 0;
    for (let start = 0; start < questions.length; start += batchSize) {
      const batch = questions.slice(start, start + batchSize);
      const hits: SearchHit[][] = await options.retriever.search(
        batch.map((q) => q.question),
        depth,
      );
      batch.forEach((question, i) => {
        const ranked = hits[i] ?? [];
        const gold = labels?.get(question.id);
        if (gold !== undefined) labelled += 1;
        for (const k of ks) {
          const top = ranked.slice(0, k);
          if (gold !== undefined) {
            const ids = new Set(top.map((hit) => hit.id));
            recallSum[k]! += gold.filter((id) => ids.has(id)).length / gold.length;
          }
          if (top.some((hit) => answerInText(question.golden_answers, hit.contents))) answerCount[k]! += 1;
        }
      });
      done += batch.length;
      options.onProgress?.(done, total);
    }
    results.push({
      dataset: dataset.name,
      questions: questions.length,
      labelled,
      recall:
        labelled === 0
          ? null
          : (Object.fromEntries(ks.map((k) => [k, recallSum[k]! / labelled])) as Record<number, number>),
      answerInPassages: Object.fromEntries(
        ks.map((k) => [k, questions.length === 0 ? 0 : answerCount[k]! / questions.length]),
      ) as Record<number, number>,
    });
  }
  return results;
}

/** Quality of several retrievers, as a markdown table: a row per (retriever, dataset). */
export function renderRetrievalQualityMarkdown(
  byRetriever: Readonly<Record<string, readonly RetrievalQuality[]>>,
  ks: readonly number[] = RETRIEVAL_QUALITY_DEFAULTS.ks,
): string {
  const header = `| retriever | dataset | questions | labelled | ${ks.map((k) => `recall@${k}`).join(' | ')} | ${ks
    .map((k) => `answer@${k}`)
    .join(' | ')} |`;
  const rule = `|---|---|---:|---:|${ks.map(() => '---:').join('|')}|${ks.map(() => '---:').join('|')}|`;
  const rows: string[] = [];
  for (const [name, list] of Object.entries(byRetriever)) {
    for (const row of list) {
      const recall = ks.map((k) => (row.recall === null ? '-' : (row.recall[k] ?? 0).toFixed(3)));
      const answer = ks.map((k) => (row.answerInPassages[k] ?? 0).toFixed(3));
      rows.push(
        `| ${name} | ${row.dataset} | ${row.questions} | ${row.labelled} | ${recall.join(' | ')} | ${answer.join(' | ')} |`,
      );
    }
  }
  return `${[header, rule, ...rows].join('\n')}\n`;
}
