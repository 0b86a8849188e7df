// Benchmark inputs from the shared data folder: question files and supporting-passage labels.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One question from a FlashRAG-style JSONL file. */
export interface Question {
  dataset: string;
  id: string;
  question: string;
}

export const QUESTION_FILES = [
  'nq',
  'triviaqa',
  'popqa',
  'hotpotqa',
  '2wikimultihopqa',
  'musique',
  'bamboogle',
] as const;

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as T);
}

/** Every question of the shared question files, in file order. */
export function readQuestions(dataDir: string): Question[] {
  const questions: Question[] = [];
  for (const dataset of QUESTION_FILES) {
    const file = join(dataDir, `${dataset}.jsonl`);
    if (!existsSync(file)) continue;
    for (const row of readJsonl<{ id: string; question: string }>(file)) {
      questions.push({ dataset, id: row.id, question: row.question });
    }
  }
  return questions;
}

/** `supporting.jsonl`: dataset → question id → gold passage ids. */
export function readSupporting(dataDir: string): Map<string, Map<string, string[]>> {
  const byDataset = new Map<string, Map<string, string[]>>();
  for (const row of readJsonl<{ dataset: string; id: string; passage_ids: string[] }>(
    join(dataDir, 'supporting.jsonl'),
  )) {
    let map = byDataset.get(row.dataset);
    if (map === undefined) {
      map = new Map();
      byDataset.set(row.dataset, map);
    }
    map.set(row.id, row.passage_ids);
  }
  return byDataset;
}

/** Median / percentile of a sample (nearest rank). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
