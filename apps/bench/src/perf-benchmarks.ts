// The benchmarks `sr1-bench perf` runs, each reusing its package's own measurement — training
// throughput vs PyTorch (train-perf.ts), prefill and decode vs llama.cpp (@sr1/model's
// scripts/llama-cpp-speed.mjs), host↔device bytes from the transfer ledger (ledger-perf.ts), index
// build, HNSW vs FAISS and server load (@sr1/retriever) — and turning its result into table rows.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Sr1Error } from '@sr1/core';
import { type DecoderConfig, parseDecoderConfig } from '@sr1/model';
import {
  benchHnsw,
  benchServer,
  buildIndex,
  HNSW_BENCH_DEFAULTS,
  type HnswBenchOptions,
  type HnswBenchResult,
  type IndexManifest,
  loadIndex,
  readManifest,
  SERVER_BENCH_DEFAULTS,
  type SearchMethod,
  type ServerBenchOptions,
  type ServerBenchResult,
} from '@sr1/retriever';
import { ENGINE_PERF_SIZES, type EnginePerfSizes, engineRows, measureEngine } from './engine-perf.js';
import { BenchInvariantError } from './errors.js';
import {
  BENCH_MODEL_NAME,
  decodeRow,
  LEDGER_PERF_SIZES,
  type LedgerPerfSizes,
  ledgerRows,
  measureDecodeLedger,
  measureLedger,
} from './ledger-perf.js';
import type { TorchPeer } from './perf-plan.js';
import type { MeasuredRow, PerfBenchmarkId } from './perf-report.js';
import { bestThreadsText, pickBestThreads, type ThreadSample, threadsText } from './perf-threads.js';
import { measureTrainThroughput, TRAIN_PERF_DEFAULTS, type TrainPerfResult } from './train-perf.js';

/** The options of `measureLlamaCppSpeed` in packages/model/scripts/llama-cpp-speed.mjs. */
export interface LlamaCppSpeedOptions {
  llamacppDir: string;
  /** Every thread count to measure both engines at. */
  threads: number[];
  hidden: number;
  layers: number;
  prefillLength: number;
  decodeLength: number;
  decodeBatches: number[];
}

/** Both engines at one thread count, as `measureLlamaCppSpeed` returns them. */
export interface LlamaCppSpeedRun {
  threads: number;
  /** `decodeTokensPerSecond[b]`: sr1's aggregate decode at batch b (1 and each of decodeBatches). */
  sr1: { prefillTokensPerSecond: number; decodeTokensPerSecond: Record<number, number> };
  /** llama.cpp's one sequence. */
  llamaCpp: { prefillTokensPerSecond: number; decodeTokensPerSecond: number };
}

/** What `measureLlamaCppSpeed` returns. */
export interface LlamaCppSpeedResult {
  parameters: number;
  /** The thread counts tried, in increasing order. */
  threads: number[];
  hidden: number;
  layers: number;
  prefillLength: number;
  decodeLength: number;
  llamaCppVersion: string;
  /** sr1's inference path measured (the script's `SR1_ENGINE`); absent from older scripts: the default runner. */
  sr1Engine?: string;
  /** One entry per thread count. */
  runs: LlamaCppSpeedRun[];
}

interface LlamaCppSpeedScript {
  measureLlamaCppSpeed(options: Partial<LlamaCppSpeedOptions>): Promise<LlamaCppSpeedResult>;
}

/** Sizes of one mode: full (the recorded rows) or quick (a smoke test; numbers mean little). */
export interface PerfSizes {
  train: { batchSize: number; length: number; steps: number };
  /** Overrides of the script's own defaults (LLAMA_CPP_SPEED_DEFAULTS); none for full size. */
  llamaCpp: Partial<Omit<LlamaCppSpeedOptions, 'llamacppDir' | 'threads'>>;
  /** The multi-turn rollout and event-loop workloads (engine-perf.ts). */
  engine: EnginePerfSizes;
  /** The model, batch and steps whose host↔device bytes the transfer ledger counts (ledger-perf.ts). */
  ledger: LedgerPerfSizes;
  /** Index only the first `passages` passages of the corpus; null for all of it. */
  index: { passages: number | null };
  hnsw: Omit<HnswBenchOptions, 'dataDir' | 'python'>;
  server: Omit<ServerBenchOptions, 'index' | 'dataDir' | 'method'> & { methods: SearchMethod[] };
}

const { python: _faissPython, ...hnswDefaults } = HNSW_BENCH_DEFAULTS;

export const PERF_SIZES = {
  full: {
    train: TRAIN_PERF_DEFAULTS,
    llamaCpp: {},
    engine: ENGINE_PERF_SIZES.full,
    ledger: LEDGER_PERF_SIZES.full, // the Qwen2.5-0.5B shape: 2 GB of weights, minutes
    index: { passages: null },
    hnsw: hnswDefaults,
    server: { ...SERVER_BENCH_DEFAULTS, methods: ['hybrid', 'bm25'] }, // the server's default, and BM25 alone
  },
  quick: {
    train: { batchSize: 2, length: 32, steps: 1 }, // seconds, not minutes
    llamaCpp: { hidden: 128, layers: 2, prefillLength: 32, decodeLength: 8, decodeBatches: [8] }, // 0.7M parameters
    engine: ENGINE_PERF_SIZES.quick, // the 0.7M model, 8 short trajectories
    ledger: LEDGER_PERF_SIZES.quick, // a small Qwen2: the same code paths in seconds
    index: { passages: 1000 }, // builds in about 2 s even on a busy 2-core box
    hnsw: { ...hnswDefaults, queries: 200, efConstruction: 100, efs: [16, 64, 128], repeats: 1 },
    server: { clients: [4], requests: [200], batch: 32, batchRepeats: 2, methods: ['hybrid', 'bm25'] },
  },
} satisfies Record<'full' | 'quick', PerfSizes>;

/** The recall@10 at which HNSW search speed is compared, as in the recorded rows. */
export const HNSW_RECALL_TARGET = 0.95;

const grouped = (value: number) => value.toLocaleString('en-US');

/** `measureTrainThroughput` at one thread count (both sides at that count). */
export interface TrainSweepRun {
  threads: number;
  result: TrainPerfResult;
}

/**
 * Train rows from a thread sweep against one PyTorch peer: tokens/s with each side at its best
 * count, and (once, for the first peer) the forward's share of a step at sr1's best forward count.
 * The first peer's rows are `train-step` and `train-forward`; another peer's is
 * `train-step:<its --torch-python>`.
 */
export function trainRows(
  runs: readonly TrainSweepRun[],
  setup: {
    configFile: string;
    modelType: string;
    batchSize: number;
    length: number;
    steps: number;
    peer: TorchPeer;
    /** The first peer: its rows have the plain ids, and it alone makes the forward row. */
    first: boolean;
  },
): MeasuredRow[] {
  const first = runs[0];
  if (first === undefined)
    throw new BenchInvariantError('train benchmark returned no runs; expected one per thread count');
  const tried = runs.map((run) => run.threads);
  const sample = (value: (result: TrainPerfResult) => number): ThreadSample[] =>
    runs.map((run) => ({ threads: run.threads, value: value(run.result) }));
  const sr1 = pickBestThreads(
    sample((result) => result.sr1TokensPerSecond),
    'higher',
  );
  const torch = pickBestThreads(
    sample((result) => result.torchTokensPerSecond),
    'higher',
  );
  const model = `${setup.modelType} model of ${(first.result.parameters / 1e6).toFixed(2)}M parameters (${setup.configFile})`;
  const shape = `batch ${setup.batchSize} × ${setup.length}, ${setup.steps} timed ${setup.steps === 1 ? 'step' : 'steps'}`;
  const threads = bestThreadsText(tried, [
    { name: 'sr1', threads: sr1.threads },
    { name: 'PyTorch', threads: torch.threads },
  ]);
  const rows: MeasuredRow[] = [
    {
      id: setup.first ? 'train-step' : `train-step:${setup.peer.python}`,
      what:
        `Training tokens/s, forward + backward + AdamW, ${model}, ${shape}, ${threads}: sr1 (ORT CPU, one run of the ` +
        `gradient graph) vs PyTorch ${first.result.torchVersion} (${setup.peer.executable}, autograd + torch.optim.AdamW)`,
      sr1: { value: sr1.value, unit: 'tok/s' },
      peer: { value: torch.value, unit: 'tok/s' },
      better: 'higher',
      commandFlags: ['--torch-python', setup.peer.python],
      threads: { sr1: sr1.threads, peer: torch.threads, tried },
    },
  ];
  if (setup.first) {
    const forward = pickBestThreads(
      sample((result) => result.sr1ForwardSeconds),
      'lower',
    );
    const stepSeconds = runs.find((run) => run.threads === forward.threads)!.result.sr1ForwardBackwardSeconds;
    const share = (100 * forward.value) / stepSeconds;
    rows.push({
      id: 'train-forward',
      what:
        `The RL seam's extra pass, same model and batch (sr1 only, ${bestThreadsText(tried, [{ name: 'sr1', threads: forward.threads }])}): ` +
        `one forward alone; a forward + backward + AdamW step took ${stepSeconds.toFixed(3)} s at that count, so a ` +
        `forward costs ${share.toFixed(0)} % of a step (what a second PPO mini-batch pays, see docs/architecture.md)`,
      sr1: { value: forward.value, unit: 's' },
      peer: null,
      better: 'lower',
      commandFlags: ['--torch-python', setup.peer.python],
      threads: { sr1: forward.threads, tried },
    });
  }
  return rows;
}

/**
 * llama.cpp rows — `prefill`, `decode-b1`, and `decode-bN` (sr1's batched decode vs llama.cpp's one
 * sequence) — each side at its own best thread count for that row's measurement.
 */
export function llamaCppRows(result: LlamaCppSpeedResult): MeasuredRow[] {
  const first = result.runs[0];
  if (first === undefined)
    throw new BenchInvariantError('llama.cpp benchmark returned no runs; expected one per thread count');
  const tried = result.runs.map((run) => run.threads);
  const best = (value: (run: LlamaCppSpeedRun) => number | undefined) =>
    pickBestThreads(
      result.runs.map((run) => ({ threads: run.threads, value: value(run) ?? Number.NaN })),
      'higher',
    );
  const engine = result.sr1Engine ?? 'OrtDecoderRunner';
  const model =
    `random Qwen2-shaped model (${(result.parameters / 1e6).toFixed(1)}M parameters: hidden ${result.hidden}, ` +
    `${result.layers} layers, vocab 2048, F32 on both sides): sr1 ` +
    `(${engine}) vs llama.cpp (node-llama-cpp ${result.llamaCppVersion}, GGUF from ` +
    '`sr1-model export-gguf`, flash attention off)';
  const row = (id: string, what: string, sr1: ThreadSample, peer: ThreadSample): MeasuredRow => ({
    id,
    what: `${what}, ${bestThreadsText(tried, [
      { name: 'sr1', threads: sr1.threads },
      { name: 'llama.cpp', threads: peer.threads },
    ])}`,
    sr1: { value: sr1.value, unit: 'tok/s' },
    peer: { value: peer.value, unit: 'tok/s' },
    better: 'higher',
    threads: { sr1: sr1.threads, peer: peer.threads, tried },
  });
  const llamaDecode = best((run) => run.llamaCpp.decodeTokensPerSecond);
  const rows: MeasuredRow[] = [
    row(
      'prefill',
      `Prefill tokens/s, 1 × ${result.prefillLength} tokens, ${model}`,
      best((run) => run.sr1.prefillTokensPerSecond),
      best((run) => run.llamaCpp.prefillTokensPerSecond),
    ),
  ];
  const batches = Object.keys(first.sr1.decodeTokensPerSecond)
    .map(Number)
    .sort((a, b) => a - b);
  for (const batch of batches) {
    rows.push(
      row(
        `decode-b${batch}`,
        batch === 1
          ? `Decode tokens/s at batch 1 (${result.decodeLength} greedy tokens after a 32-token prompt), same model and run, sr1 (${engine})`
          : `Aggregate decode tokens/s, sr1 at batch ${batch} vs llama.cpp's one sequence, same model and run, sr1 (${engine})`,
        best((run) => run.sr1.decodeTokensPerSecond[batch]),
        llamaDecode,
      ),
    );
  }
  return rows;
}

/** The index-build row (sr1 only). */
export function indexRow(manifest: IndexManifest, seconds: number, subset: boolean): MeasuredRow {
  const parts = ['document store'];
  if (manifest.bm25 !== null) parts.push('BM25');
  if (manifest.dense !== null) {
    const { encoder, hnsw } = manifest.dense;
    parts.push(`${encoder.type}-${encoder.dimension} vectors`, `HNSW M ${hnsw.m}`);
  }
  const corpus = subset
    ? `the first ${grouped(manifest.corpus.passages)} passages of the shared corpus`
    : `the ${grouped(manifest.corpus.passages)}-passage shared corpus`;
  return {
    id: 'index-build',
    what: `@sr1/retriever index build (${parts.join(' + ')}) of ${corpus}`,
    sr1: { value: seconds, unit: 's' },
    peer: null,
    better: 'lower',
  };
}

type EfResult = { ef: number; recall: number; qps: number };

/** The first ef (in the order measured) reaching `target` recall, else the one with the best recall. */
export function pickEf(results: readonly EfResult[], target: number): { row: EfResult; reached: boolean } {
  const reached = results.find((row) => row.recall >= target);
  if (reached !== undefined) return { row: reached, reached: true };
  const best = results.reduce<EfResult | undefined>(
    (top, row) => (top === undefined || row.recall > top.recall ? row : top),
    undefined,
  );
  if (best === undefined)
    throw new BenchInvariantError('HNSW bench returned no ef results; expected at least one ef');
  return { row: best, reached: false };
}

/** HNSW rows: search queries/s at the recall target, and build time, sr1 vs FAISS. */
export function hnswRows(
  result: HnswBenchResult,
  encoderType: string,
  target = HNSW_RECALL_TARGET,
): MeasuredRow[] {
  if (result.faiss === null) {
    throw new Sr1Error('peer_failed', `the FAISS peer failed: ${result.faissError ?? 'no output'}`);
  }
  const sr1 = pickEf(result.sr1.results, target);
  const faiss = pickEf(result.faiss.results, target);
  const at = (name: string, pick: { row: EfResult; reached: boolean }) =>
    `${name} ef ${pick.row.ef}: ${pick.row.recall.toFixed(3)}${pick.reached ? '' : ', target not reached'}`;
  const setup =
    `${grouped(result.vectors)} × ${result.dimension} ${encoderType} vectors, ${grouped(result.queries)} questions, ` +
    `k ${result.k}, M ${result.m}, efConstruction ${result.efConstruction}, 1 thread each; sr1 hnswlib-node vs ` +
    `FAISS ${result.faiss.faiss} IndexHNSWFlat`;
  return [
    {
      id: 'hnsw-query',
      what:
        `@sr1/retriever HNSW search, queries/s at the first ef with recall@${result.k} ≥ ${target} ` +
        `(${at('sr1', sr1)}; ${at('FAISS', faiss)}), ${setup}`,
      sr1: { value: sr1.row.qps, unit: 'q/s' },
      peer: { value: faiss.row.qps, unit: 'q/s' },
      better: 'higher',
    },
    {
      id: 'hnsw-build',
      what: `@sr1/retriever HNSW build, ${setup}`,
      sr1: { value: result.sr1.buildSeconds, unit: 's' },
      peer: { value: result.faiss.build_seconds, unit: 's' },
      better: 'lower',
    },
  ];
}

/**
 * Server rows (no peer): requests/s per concurrency level (`server-qps-<method>-c<clients>`), and
 * the batched request's p50 (`server-batch-<method>`).
 */
export function serverRows(result: ServerBenchResult, method: SearchMethod, passages: number): MeasuredRow[] {
  const server = `@sr1/retriever \`/retrieve\` server, ${method} search over ${grouped(passages)} passages`;
  const rows: MeasuredRow[] = result.load.map((load) => ({
    id: `server-qps-${method}-c${load.clients}`,
    what:
      `${server}, ${load.clients} keep-alive ${load.clients === 1 ? 'client' : 'clients'} × ` +
      `${grouped(load.requests)} one-question requests (topk 3, scores), ${load.errors} errors, ` +
      `p50 / p99 ${load.p50Ms.toFixed(1)} / ${load.p99Ms.toFixed(1)} ms`,
    sr1: { value: load.requestsPerSecond, unit: 'req/s' },
    peer: null,
    better: 'higher',
  }));
  const batch = result.batch;
  rows.push({
    id: `server-batch-${method}`,
    what:
      `${server}, one ${batch.batch}-question request (topk 3, scores): p50 latency over ${batch.repeats} ` +
      `requests (max ${batch.maxMs.toFixed(1)} ms, ${grouped(Math.round(batch.queriesPerSecond))} questions/s ` +
      `at p50), ${batch.errors} errors`,
    sr1: { value: batch.p50Ms, unit: 'ms' },
    peer: null,
    better: 'lower',
  });
  return rows;
}

/**
 * The index folder hnsw and server search: the one given with --index, or one built from the data
 * (timed, so the index benchmark reports it) into a temporary folder removed by `dispose`.
 */
export class PerfIndex {
  private built: Promise<{ dir: string; seconds: number | null }> | undefined;
  private readonly temporary: string[] = [];

  constructor(
    private readonly given: string | null,
    private readonly dataDir: string,
    private readonly passages: number | null,
  ) {}

  /** Builds (once) and returns the folder with the build time; null seconds for a given folder. */
  async build(): Promise<{ dir: string; seconds: number | null; manifest: IndexManifest }> {
    this.built ??=
      this.given !== null ? Promise.resolve({ dir: this.given, seconds: null }) : this.buildNow();
    const { dir, seconds } = await this.built;
    return { dir, seconds, manifest: readManifest(dir) };
  }

  private async buildNow(): Promise<{ dir: string; seconds: number }> {
    const work = mkdtempSync(join(tmpdir(), 'sr1-perf-index-'));
    this.temporary.push(work);
    let corpus = join(this.dataDir, 'corpus.jsonl');
    if (this.passages !== null) {
      const lines = readFileSync(corpus, 'utf8').split('\n').slice(0, this.passages);
      corpus = join(work, 'corpus.jsonl');
      writeFileSync(corpus, `${lines.join('\n')}\n`);
    }
    const dir = join(work, 'index');
    const started = performance.now();
    await buildIndex({ corpus, out: dir, kind: 'hybrid' });
    return { dir, seconds: (performance.now() - started) / 1000 };
  }

  dispose(): void {
    for (const dir of this.temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** Everything a benchmark needs from the command line and the plan. */
export interface PerfRunContext {
  sizes: PerfSizes;
  /** The thread counts each threaded side is measured at; its best is reported. */
  threads: number[];
  dataDir: string;
  trainConfigFile: string;
  torchPeers: readonly TorchPeer[];
  faissPython: string;
  llamacppDir: string;
  llamaCppScript: string;
  index: PerfIndex;
  log: (line: string) => void;
}

async function runTrain(context: PerfRunContext): Promise<MeasuredRow[]> {
  const file = context.trainConfigFile;
  const config = parseDecoderConfig(JSON.parse(readFileSync(file, 'utf8')), { file });
  const rows: MeasuredRow[] = [];
  for (const [i, peer] of context.torchPeers.entries()) {
    const runs: TrainSweepRun[] = [];
    for (const threads of context.threads) {
      context.log(`train: sr1 vs PyTorch ${peer.version} (${peer.executable}), ${threadsText(threads)} each`);
      const result = await measureTrainThroughput({
        config,
        ...context.sizes.train,
        threads,
        python: peer.python,
      });
      runs.push({ threads, result });
    }
    rows.push(
      ...trainRows(runs, {
        configFile: file,
        modelType: config.modelType,
        ...context.sizes.train,
        peer,
        first: i === 0,
      }),
    );
  }
  return rows;
}

async function runLlamaCpp(context: PerfRunContext): Promise<MeasuredRow[]> {
  const script = (await import(pathToFileURL(context.llamaCppScript).href)) as LlamaCppSpeedScript;
  const result = await script.measureLlamaCppSpeed({
    ...context.sizes.llamaCpp,
    llamacppDir: context.llamacppDir,
    threads: context.threads,
  });
  return llamaCppRows(result);
}

async function runEngine(context: PerfRunContext): Promise<MeasuredRow[]> {
  // The llama-cpp benchmark's script owns the bench model's shape and how node-llama-cpp is found.
  const script = (await import(pathToFileURL(context.llamaCppScript).href)) as {
    benchModelConfig(hidden: number, layers: number): DecoderConfig;
    llamaCppVersion(dir: string): string | null;
  };
  const version = script.llamaCppVersion(context.llamacppDir);
  if (version === null)
    throw new BenchInvariantError(
      `engine benchmark planned without node-llama-cpp in ${context.llamacppDir}`,
    );
  const result = await measureEngine({
    sizes: context.sizes.engine,
    threads: context.threads,
    llamacppDir: context.llamacppDir,
    llamaCppVersion: version,
    modelConfig: script.benchModelConfig,
    log: context.log,
  });
  return engineRows(result);
}

async function runLedger(context: PerfRunContext): Promise<MeasuredRow[]> {
  // Bytes do not depend on threads: run at the most threads swept, for time.
  const options = { threads: Math.max(...context.threads), log: context.log };
  const rows = ledgerRows(await measureLedger(context.sizes.ledger, options));
  if (context.llamaCppScript !== '') {
    // The llama-cpp benchmark's 25.2M-parameter model, its shape from the script that owns it.
    const script = (await import(pathToFileURL(context.llamaCppScript).href)) as {
      benchModelConfig(hidden: number, layers: number): DecoderConfig;
    };
    const model = { name: BENCH_MODEL_NAME, config: script.benchModelConfig(512, 8) };
    const result = await measureDecodeLedger(model, context.sizes.ledger.decode, options);
    rows.push(decodeRow(result, 'ledger-decode-25m'));
  }
  return rows;
}

async function runIndex(context: PerfRunContext): Promise<MeasuredRow[]> {
  const { manifest, seconds } = await context.index.build();
  if (seconds === null)
    throw new BenchInvariantError('index benchmark planned with --index given; expected a fresh build');
  return [indexRow(manifest, seconds, context.sizes.index.passages !== null)];
}

async function runHnsw(context: PerfRunContext): Promise<MeasuredRow[]> {
  const { dir } = await context.index.build();
  const index = await loadIndex(dir);
  try {
    const encoderType = index.manifest.dense?.encoder.type ?? 'dense';
    const result = await benchHnsw(index, {
      ...context.sizes.hnsw,
      dataDir: context.dataDir,
      python: context.faissPython,
    });
    return hnswRows(result, encoderType);
  } finally {
    await index.close();
  }
}

async function runServer(context: PerfRunContext): Promise<MeasuredRow[]> {
  const { dir, manifest } = await context.index.build();
  const { methods, ...load } = context.sizes.server;
  const rows: MeasuredRow[] = [];
  for (const method of methods) {
    context.log(`server: ${method}`);
    const result = await benchServer({ ...load, index: dir, dataDir: context.dataDir, method });
    rows.push(...serverRows(result, method, manifest.corpus.passages));
  }
  return rows;
}

/** Each benchmark's runner, by the name `--only` takes. */
export const PERF_RUNNERS = {
  train: runTrain,
  'llama-cpp': runLlamaCpp,
  engine: runEngine,
  ledger: runLedger,
  index: runIndex,
  hnsw: runHnsw,
  server: runServer,
} satisfies Record<PerfBenchmarkId, (context: PerfRunContext) => Promise<MeasuredRow[]>>;
