// The evaluation run: every (dataset, method) pair in batches, a bounded number of batches in
// flight, each finished batch appended to a JSONL results file. A rerun reads that file first and
// skips every (dataset, method, id) already scored, so an interrupted run resumes where it stopped.

import { appendFileSync, existsSync, mkdirSync, readFileSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import type { EvalDataset, EvalQuestion } from './datasets.js';
import { DatasetFormatError } from './datasets.js';
import { EvalInvariantError } from './errors.js';
import { type EvalMethod, type EvalRecord, type MethodParts, methodRetrieves, runMethod } from './methods.js';

/** Options of `runEvaluation`. */
export interface EvaluationOptions extends MethodParts {
  datasets: readonly EvalDataset[];
  methods: readonly EvalMethod[];
  /** JSONL file the records are appended to (created with its folder). */
  resultsFile: string;
  /** First N questions of each dataset (all when absent). */
  limit?: number;
  /** Questions per rollout call. */
  batchSize?: number;
  /** Rollout calls in flight at once. */
  concurrency?: number;
  /** Called after every finished batch. */
  onProgress?: (progress: EvaluationProgress) => void;
}

/** Progress after a batch. */
export interface EvaluationProgress {
  /** Questions scored, including those found in the results file. */
  done: number;
  total: number;
  dataset: string;
  method: EvalMethod;
  /** Mean EM of the records scored so far in this run and before. */
  exactMatch: number;
}

/** The outcome of a run. */
export interface EvaluationResult {
  /** One record per selected (dataset, method, question), in dataset, method, question order. */
  records: EvalRecord[];
  /** Records found in the results file (skipped). */
  resumed: number;
  /** Records produced by this run. */
  evaluated: number;
}

export const EVALUATION_DEFAULTS = {
  batchSize: 16, // enough to batch a local engine's decode steps without long waits for the slowest sequence
  concurrency: 1, // one local engine runs one batch at a time; raise it for an endpoint pool
};

/** The key that makes a record unique in a results file. */
export function recordKey(dataset: string, method: string, id: string): string {
  return JSON.stringify([dataset, method, id]);
}

/**
 * Reads the records of a results file. A last line cut short (a run killed mid-write) is removed
 * from the file; any other unparsable line is an error naming it.
 */
export function readResults(file: string): EvalRecord[] {
  if (!existsSync(file)) return [];
  const content = readFileSync(file, 'utf8');
  const lines = content.split('\n');
  const records: EvalRecord[] = [];
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index]!;
    if (raw.trim() === '') continue;
    let record: EvalRecord | null = null;
    let problem: string;
    try {
      record = JSON.parse(raw) as EvalRecord;
      problem = 'missing dataset, method or id';
    } catch (error) {
      problem = (error as Error).message;
    }
    if (
      record !== null &&
      typeof record === 'object' &&
      typeof record.dataset === 'string' &&
      typeof record.method === 'string' &&
      typeof record.id === 'string'
    ) {
      records.push(record);
      continue;
    }
    const isCutLast = index === lines.length - 1 && !content.endsWith('\n');
    if (isCutLast) {
      truncateSync(file, Buffer.byteLength(content, 'utf8') - Buffer.byteLength(raw, 'utf8'));
      break;
    }
    throw new DatasetFormatError({
      file,
      line: index + 1,
      reason: `not a results record (${problem}); remove the line or use another --out`,
    });
  }
  return records;
}

/** The questions of a dataset that a run evaluates (the first `limit`). */
export function selectQuestions(dataset: EvalDataset, limit: number | undefined): EvalQuestion[] {
  return limit === undefined ? dataset.questions : dataset.questions.slice(0, limit);
}

/** Runs every method on every dataset (greedy), appending records as batches finish; resumes from the file. */
export async function runEvaluation(options: EvaluationOptions): Promise<EvaluationResult> {
  const batchSize = options.batchSize ?? EVALUATION_DEFAULTS.batchSize;
  const concurrency = options.concurrency ?? EVALUATION_DEFAULTS.concurrency;
  for (const [name, value] of [
    ['batchSize', batchSize],
    ['concurrency', concurrency],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidInputError({ field: name, reason: `expected a positive integer, got ${value}` });
    }
  }
  if (options.limit !== undefined && !(Number.isInteger(options.limit) && options.limit >= 1)) {
    throw new InvalidInputError({
      field: 'limit',
      reason: `expected a positive integer, got ${options.limit}`,
    });
  }
  if (options.methods.length === 0)
    throw new InvalidInputError({ field: 'methods', reason: 'no method given' });
  if (options.retriever === undefined) {
    const needs = options.methods.filter(methodRetrieves);
    if (needs.length > 0) {
      throw new InvalidInputError({
        field: 'retriever',
        reason: `the methods [${needs.join(', ')}] need a retriever (an index folder or a /retrieve URL)`,
      });
    }
  }

  mkdirSync(dirname(options.resultsFile), { recursive: true });
  const stored = new Map<string, EvalRecord>();
  for (const record of readResults(options.resultsFile)) {
    stored.set(recordKey(record.dataset, record.method, record.id), record);
  }

  // Jobs: batches of questions not scored yet, in dataset, method order.
  const jobs: { dataset: string; method: EvalMethod; questions: EvalQuestion[] }[] = [];
  let total = 0;
  let done = 0;
  let emSum = 0;
  for (const dataset of options.datasets) {
    const selected = selectQuestions(dataset, options.limit);
    for (const method of options.methods) {
      total += selected.length;
      const pending: EvalQuestion[] = [];
      for (const question of selected) {
        const found = stored.get(recordKey(dataset.name, method, question.id));
        if (found === undefined) pending.push(question);
        else {
          done += 1;
          emSum += found.exactMatch;
        }
      }
      for (let start = 0; start < pending.length; start += batchSize) {
        jobs.push({ dataset: dataset.name, method, questions: pending.slice(start, start + batchSize) });
      }
    }
  }
  const resumed = done;

  let next = 0;
  let evaluated = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      const records = await runMethod(job.method, job.dataset, job.questions, options);
      appendFileSync(options.resultsFile, records.map((record) => `${JSON.stringify(record)}\n`).join(''));
      for (const record of records) {
        stored.set(recordKey(record.dataset, record.method, record.id), record);
        emSum += record.exactMatch;
      }
      done += records.length;
      evaluated += records.length;
      options.onProgress?.({
        done,
        total,
        dataset: job.dataset,
        method: job.method,
        exactMatch: done === 0 ? 0 : emSum / done,
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(jobs.length, 1)) }, worker));

  const records: EvalRecord[] = [];
  for (const dataset of options.datasets) {
    const selected = selectQuestions(dataset, options.limit);
    for (const method of options.methods) {
      for (const question of selected) {
        const record = stored.get(recordKey(dataset.name, method, question.id));
        if (record === undefined) {
          throw new EvalInvariantError(
            `no record for ${dataset.name}/${method}/${question.id} after the run`,
          );
        }
        records.push(record);
      }
    }
  }
  return { records, resumed, evaluated };
}
