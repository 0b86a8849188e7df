// Evaluation datasets: FlashRAG JSONL (`{id, question, golden_answers}`) and the Search-R1
// reference parquet files (`data_source, prompt[{role, content}], reward_model.ground_truth.target,
// extra_info.index`), read from any path. Bad input names the file, the line or row, and the field.

import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';

/** One question, as FlashRAG's JSONL has it. */
export interface EvalQuestion {
  id: string;
  question: string;
  golden_answers: string[];
  /** Optional question type (kept from a JSONL `type` string field, e.g. the toy world's). */
  type?: string;
}

/** A named set of questions (the name is what the results table calls it). */
export interface EvalDataset {
  name: string;
  /** The file the questions came from. */
  file: string;
  questions: EvalQuestion[];
}

/** A dataset file that does not have the expected shape; names the file, line (or row) and field. */
export class DatasetFormatError extends InvalidInputError {
  constructor(location: { file: string; line?: number; field?: string; reason: string }) {
    super({ ...location, code: 'dataset_format' });
  }
}

const DATASET_EXTENSIONS = ['.jsonl', '.parquet'];

/** Whether the first record of a JSONL file looks like a question (a folder also holds corpus and label files). */
function looksLikeQuestions(file: string): boolean {
  // Only the head: a corpus beside the questions can be many gigabytes.
  const buffer = Buffer.alloc(65536);
  const fd = openSync(file, 'r');
  let head: string;
  try {
    head = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
  } finally {
    closeSync(fd);
  }
  const first = head.split('\n').find((line) => line.trim() !== '');
  if (first === undefined) return true; // let the reader report the empty file
  try {
    const record = JSON.parse(first) as Record<string, unknown>;
    return record !== null && typeof record === 'object' && 'question' in record;
  } catch {
    return true; // let the reader report the bad line
  }
}

/**
 * The dataset files named by `paths`: a file is taken as is; a folder contributes its `*.parquet`
 * files and those `*.jsonl` files whose first record has a `question` (so `corpus.jsonl` and
 * `supporting.jsonl` beside the questions are passed over), sorted by name, not recursive.
 */
export function resolveDatasetFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  for (const path of paths) {
    let stats: ReturnType<typeof statSync>;
    try {
      stats = statSync(path);
    } catch {
      throw new InvalidInputError({ file: path, flag: '--data', reason: 'no such file or folder' });
    }
    if (stats.isDirectory()) {
      const found = readdirSync(path)
        .filter((name) => DATASET_EXTENSIONS.includes(extname(name)))
        .sort()
        .map((name) => join(path, name))
        .filter((file) => extname(file) === '.parquet' || looksLikeQuestions(file));
      if (found.length === 0) {
        throw new InvalidInputError({
          file: path,
          flag: '--data',
          reason: 'the folder holds no question .jsonl or .parquet files',
        });
      }
      files.push(...found);
    } else {
      if (!DATASET_EXTENSIONS.includes(extname(path))) {
        throw new InvalidInputError({
          file: path,
          flag: '--data',
          reason: 'expected a .jsonl or .parquet file',
        });
      }
      files.push(path);
    }
  }
  return files;
}

/**
 * Loads datasets from files and folders (`resolveDatasetFiles`). A JSONL file is one dataset named
 * after the file; a parquet file gives one dataset per `data_source` (the reference merges all test
 * sets into one `test.parquet`). Datasets of the same name from several files are refused.
 */
export async function loadDatasets(paths: readonly string[]): Promise<EvalDataset[]> {
  const datasets: EvalDataset[] = [];
  for (const file of resolveDatasetFiles(paths)) {
    const loaded = extname(file) === '.parquet' ? await readParquetDatasets(file) : [readJsonlDataset(file)];
    for (const dataset of loaded) {
      const clash = datasets.find((other) => other.name === dataset.name);
      if (clash !== undefined) {
        throw new DatasetFormatError({
          file,
          reason: `dataset '${dataset.name}' is also given by ${clash.file}; pass each dataset once`,
        });
      }
      datasets.push(dataset);
    }
  }
  return datasets;
}

function stringList(value: unknown): string[] | null {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value) || value.length === 0) return null;
  return value.every((item) => typeof item === 'string') ? (value as string[]) : null;
}

/** Reads a FlashRAG JSONL file: one `{id, question, golden_answers}` object per line. */
export function readJsonlDataset(file: string, name: string = basename(file, extname(file))): EvalDataset {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DatasetFormatError({ file, reason: `cannot read the file (${(error as Error).message})` });
  }
  const questions: EvalQuestion[] = [];
  const ids = new Map<string, number>();
  content.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(raw) as Record<string, unknown>;
    } catch (error) {
      throw new DatasetFormatError({ file, line, reason: `not valid JSON (${(error as Error).message})` });
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      throw new DatasetFormatError({ file, line, reason: 'expected a JSON object' });
    }
    const id = typeof record.id === 'number' ? String(record.id) : record.id;
    if (typeof id !== 'string' || id === '') {
      throw new DatasetFormatError({ file, line, field: 'id', reason: 'expected a non-empty string' });
    }
    const question = record.question;
    if (typeof question !== 'string' || question.trim() === '') {
      throw new DatasetFormatError({ file, line, field: 'question', reason: 'expected a non-empty string' });
    }
    const golds = stringList(record.golden_answers);
    if (golds === null) {
      throw new DatasetFormatError({
        file,
        line,
        field: 'golden_answers',
        reason: 'expected a non-empty list of strings',
      });
    }
    const previous = ids.get(id);
    if (previous !== undefined) {
      throw new DatasetFormatError({
        file,
        line,
        field: 'id',
        reason: `duplicate id '${id}' (first on line ${previous})`,
      });
    }
    ids.set(id, line);
    questions.push({
      id,
      question,
      golden_answers: golds,
      ...(typeof record.type === 'string' ? { type: record.type } : {}),
    });
  });
  if (questions.length === 0) throw new DatasetFormatError({ file, reason: 'the file holds no questions' });
  return { name, file, questions };
}

/** The question inside a reference prompt: the text after the last "Question: ", else the whole content. */
export function questionFromPrompt(content: string): string {
  const marker = 'Question: ';
  const at = content.lastIndexOf(marker);
  return (at === -1 ? content : content.slice(at + marker.length)).trim();
}

/**
 * Reads a Search-R1 reference parquet file (scripts/data_process/*.py): question from the last
 * message of `prompt`, gold answers from `reward_model.ground_truth.target`, id `<data_source>_<extra_info.index>`
 * (the row number when `extra_info.index` is missing). Rows are grouped into datasets by `data_source`.
 * Errors name the 1-based row as `line`.
 */
export async function readParquetDatasets(file: string): Promise<EvalDataset[]> {
  let rows: Record<string, unknown>[];
  try {
    rows = (await parquetReadObjects({ file: await asyncBufferFromFile(file) })) as Record<string, unknown>[];
  } catch (error) {
    throw new DatasetFormatError({
      file,
      reason: `not a readable parquet file (${(error as Error).message})`,
    });
  }
  const fallbackName = basename(file, extname(file));
  const byName = new Map<string, EvalDataset>();
  const ids = new Map<string, number>();
  rows.forEach((row, index) => {
    const line = index + 1;
    const source = row.data_source ?? fallbackName;
    if (typeof source !== 'string' || source === '') {
      throw new DatasetFormatError({
        file,
        line,
        field: 'data_source',
        reason: 'expected a non-empty string',
      });
    }
    const prompt = row.prompt;
    const last = Array.isArray(prompt)
      ? (prompt[prompt.length - 1] as { content?: unknown } | undefined)
      : undefined;
    if (last === undefined || typeof last?.content !== 'string' || last.content.trim() === '') {
      throw new DatasetFormatError({
        file,
        line,
        field: 'prompt',
        reason: 'expected a non-empty list of {role, content} messages',
      });
    }
    const question = questionFromPrompt(last.content);
    if (question === '') {
      throw new DatasetFormatError({
        file,
        line,
        field: 'prompt',
        reason: 'the prompt holds an empty question',
      });
    }
    const target = (row.reward_model as { ground_truth?: { target?: unknown } } | null | undefined)
      ?.ground_truth?.target;
    const golds = stringList(target);
    if (golds === null) {
      throw new DatasetFormatError({
        file,
        line,
        field: 'reward_model.ground_truth.target',
        reason: 'expected a string or a non-empty list of strings',
      });
    }
    const rawIndex = (row.extra_info as { index?: unknown } | null | undefined)?.index;
    const suffix =
      typeof rawIndex === 'number' || typeof rawIndex === 'bigint' ? String(rawIndex) : String(index);
    const id = `${source}_${suffix}`;
    const previous = ids.get(id);
    if (previous !== undefined) {
      throw new DatasetFormatError({
        file,
        line,
        field: 'extra_info.index',
        reason: `duplicate id '${id}' (first in row ${previous})`,
      });
    }
    ids.set(id, line);
    let dataset = byName.get(source);
    if (dataset === undefined) {
      dataset = { name: source, file, questions: [] };
      byName.set(source, dataset);
    }
    dataset.questions.push({ id, question, golden_answers: golds });
  });
  if (byName.size === 0) throw new DatasetFormatError({ file, reason: 'the file holds no rows' });
  return [...byName.values()];
}

/** A passage-id label set: dataset → question id → supporting corpus ids (`supporting.jsonl`). */
export type SupportingPassages = Map<string, Map<string, string[]>>;

/** Reads `supporting.jsonl`: `{dataset, id, passage_ids}` per line. */
export function readSupportingPassages(file: string): SupportingPassages {
  let content: string;
  try {
    content = readFileSync(file, 'utf8');
  } catch (error) {
    throw new DatasetFormatError({ file, reason: `cannot read the file (${(error as Error).message})` });
  }
  const labels: SupportingPassages = new Map();
  content.split('\n').forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    let record: { dataset?: unknown; id?: unknown; passage_ids?: unknown };
    try {
      record = JSON.parse(raw);
    } catch (error) {
      throw new DatasetFormatError({ file, line, reason: `not valid JSON (${(error as Error).message})` });
    }
    if (typeof record?.dataset !== 'string' || record.dataset === '') {
      throw new DatasetFormatError({ file, line, field: 'dataset', reason: 'expected a non-empty string' });
    }
    if (typeof record.id !== 'string' || record.id === '') {
      throw new DatasetFormatError({ file, line, field: 'id', reason: 'expected a non-empty string' });
    }
    const passageIds = stringList(record.passage_ids);
    if (passageIds === null) {
      throw new DatasetFormatError({
        file,
        line,
        field: 'passage_ids',
        reason: 'expected a non-empty list of strings',
      });
    }
    let dataset = labels.get(record.dataset);
    if (dataset === undefined) {
      dataset = new Map();
      labels.set(record.dataset, dataset);
    }
    dataset.set(record.id, passageIds);
  });
  return labels;
}
