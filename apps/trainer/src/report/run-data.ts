// What a report shows of one run, and how it is read back from the run's folder: metrics.jsonl,
// config.resolved.json, the demo's results.json (the held-out table) and trajectories.jsonl (the
// evaluated trajectories, with each search's query and hits and the loss-masked tokens marked).

import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import type { EvalRecord, EvalSummary } from '@sr1/eval';
import type { SearchHit } from '@sr1/rollout';

/** One search an agent made: its query and the passages it got back, best first. */
export interface ReportSearch {
  turn: number;
  query: string;
  hits: { id: string; title: string; score: number }[];
}

/** A passage the answer rests on: its title, the file it came from (ingested indexes) and whether it contains the answer. */
export interface ReportSource {
  id: string;
  title: string;
  /** File path (and page or line) of an ingested passage; absent for a passage corpus. */
  path?: string;
  containsAnswer: boolean;
}

/** One evaluated trajectory as the viewer shows it (one line of trajectories.jsonl). */
export interface ReportTrajectory {
  id: string;
  /** Question type: 'single-hop', 'two-hop', 'comparison' in the toy world; 'all' when untyped. */
  type: string;
  question: string;
  gold: string[];
  answer: string | null;
  exactMatch: number;
  searches: ReportSearch[];
  /** The passages read (searched or opened), first seen first; absent in files written before sources. */
  sources?: ReportSource[];
  /** Consecutive pieces of the response: generated (mask 1) or inserted (mask 0). */
  segments: { text: string; inserted: boolean }[];
}

/** Everything the report draws of one run. */
export interface ReportRun {
  /** Short name in legends and selectors: the folder's name, made unique among the runs. */
  label: string;
  dir: string;
  /** One line from config.resolved.json, e.g. "GRPO · retrieved tokens masked · 100 steps · seed 1". */
  description: string;
  metrics: Record<string, number>[];
  /** The held-out table (results.json), empty when the run has none. */
  summaries: { label: string; summary: EvalSummary }[];
  trajectories: ReportTrajectory[];
}

/** The files of a run folder, as the demo and `sr1-train sft|rl` write them. */
export const RUN_FILES = {
  metrics: 'metrics.jsonl',
  config: 'config.resolved.json',
  results: 'results.json',
  trajectories: 'trajectories.jsonl',
  /** The demo keeps its RL run one level down. */
  demoRlRun: 'rl-run',
} as const;

/** Splits a trajectory's tokens into generated / inserted runs, decoding each run. */
export function maskedSegments(
  tokenIds: readonly number[],
  mask: ArrayLike<number>,
  decode: (ids: readonly number[]) => string,
): { text: string; inserted: boolean }[] {
  const segments: { text: string; inserted: boolean }[] = [];
  let start = 0;
  for (let i = 1; i <= tokenIds.length; i++) {
    if (i === tokenIds.length || mask[i] !== mask[start]) {
      segments.push({ text: decode(tokenIds.slice(start, i)), inserted: mask[start] === 0 });
      start = i;
    }
  }
  return segments;
}

/**
 * A viewer record from an evaluated trajectory. `lookupHits` returns the passages a query found
 * (the evaluation keeps only their ids and scores; the same deterministic search gives the titles).
 */
export async function reportTrajectory(
  record: EvalRecord,
  question: { question: string; golden_answers: string[] },
  parts: {
    decode: (ids: readonly number[]) => string;
    lookupHits: (query: string) => Promise<readonly SearchHit[]>;
  },
): Promise<ReportTrajectory> {
  const { trajectory } = record;
  if (trajectory === undefined) {
    throw new InvalidInputError({
      field: 'trajectory',
      reason: `record '${record.id}' has no trajectory; evaluate with keepTrajectories`,
    });
  }
  const searches: ReportSearch[] = [];
  for (const search of trajectory.searches) {
    const found = new Map((await parts.lookupHits(search.query)).map((hit) => [hit.id, hit.title]));
    searches.push({
      turn: search.turn,
      query: search.query,
      hits: search.documents.map((document) => ({
        id: document.id,
        title: found.get(document.id) ?? `passage ${document.id}`,
        score: document.score,
      })),
    });
  }
  return {
    id: record.id,
    type: record.type ?? 'all',
    question: question.question,
    gold: question.golden_answers,
    answer: record.answer,
    exactMatch: record.exactMatch,
    searches,
    sources: (record.sources ?? trajectory.sources ?? []).map((read) => ({
      id: read.id,
      title: read.title,
      ...(read.source === undefined ? {} : { path: sourcePath(read.source) }),
      containsAnswer: read.containsAnswer,
    })),
    segments: maskedSegments(trajectory.responseTokenIds, trajectory.sampledMask, parts.decode),
  };
}

/** `file.md`, `file.pdf p. 2`, `file.jsonl line 7`: where an ingested passage came from. */
function sourcePath(source: { path: string; page?: number; line?: number }): string {
  if (source.page !== undefined) return `${source.path} p. ${source.page}`;
  if (source.line !== undefined) return `${source.path} line ${source.line}`;
  return source.path;
}

/**
 * Writes the viewer's records of evaluated trajectories as JSONL (`trajectories.jsonl` in a run
 * folder); `questions` are those the records were evaluated on, found by id.
 */
export async function writeTrajectories(
  file: string,
  records: readonly EvalRecord[],
  questions: readonly { id: string; question: string; golden_answers: string[] }[],
  parts: Parameters<typeof reportTrajectory>[2],
): Promise<void> {
  const byId = new Map(questions.map((question) => [question.id, question]));
  const lines: string[] = [];
  for (const record of records) {
    const question = byId.get(record.id);
    if (question === undefined)
      throw new InvalidInputError({
        field: 'id',
        reason: `writeTrajectories: no question with id '${record.id}'`,
      });
    lines.push(JSON.stringify(await reportTrajectory(record, question, parts)));
  }
  await writeFile(file, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
}

/** Reads a JSONL file; a bad line is an error naming file and line, except a torn last line when `live`. */
async function readJsonl(file: string, live: boolean): Promise<unknown[]> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const records: unknown[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      // A run that is writing its metrics may be caught half-way through a line.
      if (live && i >= lines.length - 2) break;
      throw new InvalidInputError({ file, line: i + 1, reason: `not JSON: ${(error as Error).message}` });
    }
  }
  return records;
}

function describeConfig(config: Record<string, unknown>): string {
  const parts: string[] = [];
  if (typeof config.algorithm === 'string') parts.push(config.algorithm.toUpperCase());
  else if (config.training !== undefined) parts.push('SFT');
  if (typeof config.maskRetrievedTokens === 'boolean') {
    parts.push(config.maskRetrievedTokens ? 'retrieved tokens masked' : 'retrieved tokens NOT masked');
  }
  const training = config.training as { steps?: unknown; seed?: unknown } | undefined;
  const steps = config.steps ?? training?.steps;
  const seed = config.seed ?? training?.seed;
  if (typeof steps === 'number') parts.push(`${steps} steps`);
  if (typeof seed === 'number') parts.push(`seed ${seed}`);
  return parts.join(' · ');
}

/**
 * Reads one run folder: a `sr1-train sft|rl` output folder or a demo folder (whose RL run is in
 * `rl-run/`). With `live`, a run that has not written its metrics yet is empty rather than an error.
 */
export async function loadRun(dir: string, options: { live?: boolean } = {}): Promise<ReportRun> {
  const live = options.live === true;
  const folder = resolve(dir);
  const info = await stat(folder).catch(() => null);
  if (info === null || !info.isDirectory()) {
    if (live && info === null) return emptyRun(folder);
    throw new InvalidInputError({ file: dir, reason: 'is not a run folder (expected a directory)' });
  }
  const metricsDir = [folder, join(folder, RUN_FILES.demoRlRun)].find((candidate) =>
    existsSync(join(candidate, RUN_FILES.metrics)),
  );
  if (metricsDir === undefined && !live) {
    throw new InvalidInputError({
      file: dir,
      reason: `has no ${RUN_FILES.metrics} (nor ${RUN_FILES.demoRlRun}/${RUN_FILES.metrics}); is it a run folder?`,
    });
  }
  const metrics =
    metricsDir === undefined
      ? []
      : ((await readJsonl(join(metricsDir, RUN_FILES.metrics), live)) as Record<string, number>[]);
  const configFile = [metricsDir, folder]
    .filter((candidate): candidate is string => candidate !== undefined)
    .map((candidate) => join(candidate, RUN_FILES.config))
    .find((file) => existsSync(file));
  let description = '';
  if (configFile !== undefined) {
    try {
      description = describeConfig(JSON.parse(await readFile(configFile, 'utf8')) as Record<string, unknown>);
    } catch (error) {
      if (!live) {
        throw new InvalidInputError({ file: configFile, reason: `not JSON: ${(error as Error).message}` });
      }
    }
  }
  const resultsFile = join(folder, RUN_FILES.results);
  let summaries: ReportRun['summaries'] = [];
  if (existsSync(resultsFile)) {
    try {
      summaries = JSON.parse(await readFile(resultsFile, 'utf8')) as ReportRun['summaries'];
    } catch (error) {
      throw new InvalidInputError({ file: resultsFile, reason: `not JSON: ${(error as Error).message}` });
    }
    if (!Array.isArray(summaries)) {
      throw new InvalidInputError({
        file: resultsFile,
        reason: 'expected an array of { label, summary } rows',
      });
    }
  }
  // A demo's held-out trajectories; until they exist (during training), its RL run's latest validation.
  const trajectoriesFile = [folder, metricsDir]
    .filter((candidate): candidate is string => candidate !== undefined)
    .map((candidate) => join(candidate, RUN_FILES.trajectories))
    .find((file) => existsSync(file));
  const trajectories =
    trajectoriesFile === undefined ? [] : ((await readJsonl(trajectoriesFile, live)) as ReportTrajectory[]);
  return { label: basename(folder), dir: folder, description, metrics, summaries, trajectories };
}

function emptyRun(folder: string): ReportRun {
  return {
    label: basename(folder),
    dir: folder,
    description: '',
    metrics: [],
    summaries: [],
    trajectories: [],
  };
}

/** Reads several run folders; labels are the folders' names, or their relative paths where names repeat. */
export async function loadRuns(
  dirs: readonly string[],
  options: { live?: boolean } = {},
): Promise<ReportRun[]> {
  if (dirs.length === 0)
    throw new InvalidInputError({ field: 'runs', reason: 'at least one run folder expected' });
  const runs = await Promise.all(dirs.map((dir) => loadRun(dir, options)));
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.label, (counts.get(run.label) ?? 0) + 1);
  for (const run of runs) {
    if ((counts.get(run.label) ?? 0) > 1) run.label = relative(process.cwd(), run.dir) || run.label;
  }
  return runs;
}
