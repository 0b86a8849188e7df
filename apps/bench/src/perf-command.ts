// `sr1-bench perf`: runs the performance benchmarks of the other packages in one command — sr1's
// engine vs PyTorch and llama.cpp, HNSW vs FAISS, index build and server load — skipping (and
// saying why) those whose peer or input is missing, and writes their rows into docs/benchmarks.md
// (or prints them as JSON with --json). Every threaded side is swept over thread counts and reported
// at its best, so no peer is compared at its worst.

import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '@sr1/core';
import { readManifest } from '@sr1/retriever';
import { TORCH_PYTHON } from './peers.js';
import { PERF_RUNNERS, PERF_SIZES, PerfIndex, type PerfRunContext } from './perf-benchmarks.js';
import { currentLoad, describeMachine, takeMachineSnapshot } from './perf-machine.js';
import { type PerfEnvironment, type PerfPlan, planPerf, probeEnvironment } from './perf-plan.js';
import {
  checkUniqueIds,
  formatRow,
  mergeRows,
  PERF_BENCHMARKS,
  type PerfBenchmarkId,
  type PerfJsonRow,
  type PerfRow,
  type RunOutcome,
  readSectionRows,
  renderSection,
  replaceSection,
  toJsonRow,
  toPerfRow,
} from './perf-report.js';
import { defaultThreadCounts, parseThreadCounts } from './perf-threads.js';

export const PERF_USAGE = `sr1-bench perf [--only ${PERF_BENCHMARKS.join(',')}] [--quick] [--out FILE|-] [--data DIR] [--dry-run]
  [--index DIR] [--torch-python PY[,PY…]] [--faiss-python PY] [--llamacpp DIR] [--train-config FILE] [--threads LIST] [--json]`;

/** Defaults, relative to the repository root (where the command runs, as in CI). */
export const PERF_DEFAULTS = {
  out: 'docs/benchmarks.md', // the file the recorded numbers live in
  data: '../shared/data', // the shared data folder as CI sees it
  // Debian's python3-torch (or SR1_TORCH_PYTHON), plus the python3 on PATH when it is another one
  torchPythons: process.env.SR1_TORCH_PYTHON === undefined ? [TORCH_PYTHON, 'python3'] : [TORCH_PYTHON],
  faissPython: '/usr/bin/python3', // Debian's python3-faiss
  trainConfig: 'apps/trainer/assets/base-model-config.json', // the toy world's 1.05M-parameter policy
  threads: defaultThreadCounts(), // 1..cores: each side is reported at its best count, never pinned at its worst
};

/** The flags that change what a benchmark measures, repeated in its rows' commands when given. */
const ROW_FLAGS = {
  train: ['--train-config', '--threads'],
  'llama-cpp': ['--llamacpp', '--threads'],
  engine: ['--llamacpp', '--threads'],
  ledger: [],
  index: ['--data'],
  hnsw: ['--data', '--index', '--faiss-python'],
  server: ['--data', '--index'],
} satisfies Record<PerfBenchmarkId, string[]>;

export interface PerfOptions {
  /** The selected benchmarks, in run order. */
  only: PerfBenchmarkId[];
  quick: boolean;
  dryRun: boolean;
  help: boolean;
  /** The markdown file to update, or null to print the section on stdout. */
  out: string | null;
  dataDir: string;
  index: string | null;
  torchPythons: string[];
  faissPython: string;
  /** Where node-llama-cpp is installed; null for the bench script's default (/tmp/llamacpp). */
  llamacppDir: string | null;
  trainConfig: string;
  /** The thread counts swept for train, llama-cpp and engine, increasing; each side's best is reported. */
  threads: number[];
  /** Print the fresh rows as a JSON array on stdout (and write a file only when --out is given). */
  json: boolean;
  /** The flags given on the command line, with their values. */
  given: Record<string, string>;
}

function list(value: string, flag: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0)
    throw new InvalidInputError({ flag, reason: 'expected a comma-separated list, got nothing' });
  return items;
}

function flags(args: readonly string[]) {
  try {
    return parseArgs({
      args: [...args],
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        data: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        index: { type: 'string' },
        'torch-python': { type: 'string' },
        'faiss-python': { type: 'string' },
        llamacpp: { type: 'string' },
        'train-config': { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS')) throw error;
    const message = (error as Error).message;
    const flag = /'(--?[a-z][\w-]*)/.exec(message)?.[1];
    throw new InvalidInputError(
      {
        ...(flag !== undefined ? { flag } : {}),
        reason: `${message.split('. ')[0]}; see sr1-bench perf --help`,
      },
      { cause: error },
    );
  }
}

/** Parses and checks the flags of `sr1-bench perf`; bad input is an InvalidInputError naming the flag. */
export function parsePerfArgs(args: readonly string[]): PerfOptions {
  const values = flags(args);
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (typeof value === 'string') given[`--${name}`] = value;
  }

  let only: PerfBenchmarkId[] = [...PERF_BENCHMARKS];
  if (values.only !== undefined) {
    const names = list(values.only, '--only');
    for (const name of names) {
      if (!(PERF_BENCHMARKS as readonly string[]).includes(name)) {
        throw new InvalidInputError({
          flag: '--only',
          reason: `unknown benchmark '${name}'. Supported: [${PERF_BENCHMARKS.join(', ')}]`,
        });
      }
    }
    only = PERF_BENCHMARKS.filter((id) => names.includes(id));
  }

  const threads =
    values.threads !== undefined ? parseThreadCounts(values.threads, '--threads') : PERF_DEFAULTS.threads;

  const dataDir = values.data ?? PERF_DEFAULTS.data;
  if (values.data !== undefined && !existsSync(join(dataDir, 'corpus.jsonl'))) {
    throw new InvalidInputError({
      flag: '--data',
      reason: `${dataDir} holds no corpus.jsonl; pass the shared data folder`,
    });
  }

  const index = values.index ?? null;
  if (index !== null) {
    let kind: string;
    try {
      kind = readManifest(index).kind;
    } catch (error) {
      throw new InvalidInputError({ flag: '--index', reason: (error as Error).message }, { cause: error });
    }
    if (kind !== 'hybrid') {
      throw new InvalidInputError({
        flag: '--index',
        reason: `${index} is a ${kind} index; hnsw and server need a hybrid one (sr1-retriever index --kind hybrid)`,
      });
    }
  }

  const trainConfig = values['train-config'] ?? PERF_DEFAULTS.trainConfig;
  if (values['train-config'] !== undefined && !existsSync(trainConfig)) {
    throw new InvalidInputError({ flag: '--train-config', reason: `${trainConfig} does not exist` });
  }
  const llamacppDir = values.llamacpp ?? null;
  if (llamacppDir !== null && !existsSync(llamacppDir)) {
    throw new InvalidInputError({ flag: '--llamacpp', reason: `${llamacppDir} does not exist` });
  }

  let out: string | null = PERF_DEFAULTS.out;
  if (values.out === '-') {
    out = null;
  } else if (values.out !== undefined) {
    out = values.out;
    const parent = dirname(resolve(out));
    if (!existsSync(parent) || !statSync(parent).isDirectory()) {
      throw new InvalidInputError({ flag: '--out', reason: `folder ${parent} does not exist` });
    }
  } else if (values.quick || values.json) {
    // quick sizes are a smoke test, and --json is for scripts: neither writes docs unless --out says where
    out = null;
  } else if (!existsSync(out)) {
    throw new InvalidInputError({
      flag: '--out',
      reason: `${out} does not exist here: run from the repository root, or pass --out FILE (or - for stdout)`,
    });
  }

  return {
    only,
    quick: values.quick,
    dryRun: values['dry-run'],
    help: values.help,
    out,
    dataDir,
    index,
    torchPythons:
      values['torch-python'] !== undefined
        ? list(values['torch-python'], '--torch-python')
        : PERF_DEFAULTS.torchPythons,
    faissPython: values['faiss-python'] ?? PERF_DEFAULTS.faissPython,
    llamacppDir,
    trainConfig,
    threads,
    json: values.json,
    given,
  };
}

function quoteArgument(value: string): string {
  return /^[\w./,:=@+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The command that reproduces a row: `npx sr1-bench perf --only ID`, --quick, and the flags that matter. */
export function rowCommand(
  benchmark: PerfBenchmarkId,
  options: PerfOptions,
  extra: readonly string[] = [],
): string {
  const parts = ['npx sr1-bench perf --only', benchmark];
  if (options.quick) parts.push('--quick');
  for (const flag of ROW_FLAGS[benchmark]) {
    const value = options.given[flag];
    if (value !== undefined && !extra.includes(flag)) parts.push(flag, quoteArgument(value));
  }
  for (const part of extra) parts.push(quoteArgument(part));
  return `\`${parts.join(' ')}\``;
}

/** packages/model/scripts/llama-cpp-speed.mjs beside the installed @sr1/model, or null without it. */
function locateLlamaCppScript(): string | null {
  try {
    const script = fileURLToPath(
      new URL('../scripts/llama-cpp-speed.mjs', import.meta.resolve('@sr1/model')),
    );
    return existsSync(script) ? script : null;
  } catch {
    return null;
  }
}

function describePlan(plan: PerfPlan, environment: PerfEnvironment, options: PerfOptions): string[] {
  const width = Math.max(...PERF_BENCHMARKS.map((id) => id.length));
  return plan.benchmarks.map((planned) => {
    const name = planned.benchmark.padEnd(width);
    if (planned.status === 'skip') return `  ${name}  skip: ${planned.reason}`;
    const details: string[] = [];
    const threaded = ['train', 'llama-cpp', 'engine'].includes(planned.benchmark);
    if (threaded) details.push(`threads ${options.threads.join(',')} (each side's best kept)`);
    if (planned.benchmark === 'train') {
      details.push(
        `vs ${plan.torchPeers.map((peer) => `PyTorch ${peer.version} (${peer.executable})`).join(', ')}`,
      );
    }
    if (planned.benchmark === 'llama-cpp' || planned.benchmark === 'engine') {
      const llamaCpp = environment.llamaCpp;
      details.push(`vs node-llama-cpp ${llamaCpp.version ?? '?'} (${llamaCpp.dir})`);
    }
    if (planned.benchmark === 'hnsw')
      details.push(`vs FAISS ${environment.faiss.version ?? '?'} (${options.faissPython})`);
    if (['index', 'hnsw', 'server'].includes(planned.benchmark)) {
      details.push(options.index !== null ? `index ${options.index}` : `data ${options.dataDir}`);
    }
    details.push(...planned.notes);
    return `  ${name}  run${details.length > 0 ? `: ${details.join('; ')}` : ''}`;
  });
}

/** Where the command writes and prints; tests pass buffers. */
export interface PerfIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO: PerfIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Runs `sr1-bench perf`; resolves to what happened to each selected benchmark. */
export async function runPerfCommand(
  args: readonly string[],
  io: PerfIo = PROCESS_IO,
): Promise<RunOutcome[]> {
  const options = parsePerfArgs(args);
  if (options.help) {
    io.stdout(`${PERF_USAGE}\n`);
    return [];
  }
  const llamaCppScript = locateLlamaCppScript();
  const environment = await probeEnvironment({
    torchPythons: options.torchPythons,
    faissPython: options.faissPython,
    llamacppDir: options.llamacppDir,
    llamaCppScript,
    dataDir: options.dataDir,
    index: options.index,
    trainConfig: options.trainConfig,
    selected: options.only,
  });
  const plan = planPerf(options.only, environment);
  const mode = options.quick ? 'quick sizes (a smoke test)' : 'full sizes';
  const target = options.out ?? 'stdout';
  io.stderr(
    `sr1-bench perf, ${mode}, rows to ${target}:\n${describePlan(plan, environment, options).join('\n')}\n`,
  );
  const outcomes: RunOutcome[] = plan.benchmarks.map((planned) =>
    planned.status === 'skip'
      ? { benchmark: planned.benchmark, status: 'skipped', reason: planned.reason }
      : { benchmark: planned.benchmark, status: 'ran' },
  );
  if (options.dryRun) {
    io.stderr('dry run: nothing measured, nothing written\n');
    return outcomes;
  }

  const sizes = options.quick ? PERF_SIZES.quick : PERF_SIZES.full;
  const machine = takeMachineSnapshot();
  const date = new Date().toISOString().slice(0, 10);
  const index = new PerfIndex(options.index, options.dataDir, sizes.index.passages);
  const context: PerfRunContext = {
    sizes,
    threads: options.threads,
    dataDir: options.dataDir,
    trainConfigFile: options.trainConfig,
    torchPeers: plan.torchPeers,
    faissPython: options.faissPython,
    llamacppDir: environment.llamaCpp.dir,
    llamaCppScript: llamaCppScript ?? '',
    index,
    log: (line) => io.stderr(`  ${line}\n`),
  };
  const fresh: PerfRow[] = [];
  const json: PerfJsonRow[] = [];
  try {
    for (const outcome of outcomes) {
      if (outcome.status !== 'ran') continue;
      const benchmark = outcome.benchmark;
      io.stderr(`${benchmark}: running\n`);
      const before = currentLoad();
      try {
        const measured = await PERF_RUNNERS[benchmark](context);
        const load = { before, after: currentLoad() };
        const contexts = measured.map((row) => ({
          benchmark,
          command: rowCommand(benchmark, options, row.commandFlags),
          date,
          machine: describeMachine(machine, load),
        }));
        const rows = measured.map((row, i) => toPerfRow(row, contexts[i]!));
        fresh.push(...rows);
        json.push(...measured.map((row, i) => toJsonRow(row, contexts[i]!)));
        io.stderr(`${rows.map(formatRow).join('\n')}\n`);
      } catch (error) {
        outcome.status = 'failed';
        outcome.reason = ((error as Error).message ?? String(error)).split('\n')[0]!.slice(0, 300);
        io.stderr(`${benchmark}: failed: ${outcome.reason}\n`);
      }
    }
  } finally {
    index.dispose();
  }

  checkUniqueIds(fresh);
  const ran = new Set(
    outcomes.filter((outcome) => outcome.status === 'ran').map((outcome) => outcome.benchmark),
  );
  if (options.json) io.stdout(`${JSON.stringify(json, null, 2)}\n`);
  if (options.out === null) {
    if (!options.json) io.stdout(`${renderSection(mergeRows([], fresh, ran), outcomes, date)}\n`);
  } else {
    const document = existsSync(options.out) ? readFileSync(options.out, 'utf8') : '# Benchmarks\n';
    const previous = readSectionRows(document, options.out);
    const rows = mergeRows(previous, fresh, ran);
    writeFileSync(options.out, replaceSection(document, renderSection(rows, outcomes, date), options.out));
    io.stderr(`wrote ${fresh.length} new rows (${rows.length} in all) to ${options.out}\n`);
  }
  return outcomes;
}
