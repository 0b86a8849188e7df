// The engine for real workloads (`sr1-bench perf --only engine`): a Search-R1-shaped multi-turn
// rollout driven through the engine worker's continuous-batching scheduler (sessions keep their KV
// cache between turns) against the same workload driven through node-llama-cpp with several
// sequences on one context (each sequence keeps its KV between turns too), and the main thread's
// event-loop delay while the worker decodes a batch, against the same batch generated in-thread.
// Both sides run the same random 25.2M-parameter Qwen2-shaped model (F32; llama.cpp reads it as a
// GGUF written by `exportGguf`), greedy, with the same number of generated tokens per turn: the
// random stop points are emulated by a per-turn token budget (EOS ignored on both sides).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRng } from '@sr1/core';
import {
  countParameters,
  type DecoderConfig,
  EngineWorker,
  exportGguf,
  generate,
  initWeights,
  loadTokenizer,
  OrtDecoderRunner,
  saveModelFolder,
} from '@sr1/model';
import { BenchInvariantError } from './errors.js';
import type { MeasuredRow } from './perf-report.js';
import { bestThreadsText, pickBestThreads, threadsText } from './perf-threads.js';

/** sr1's fastest inference path (as the llama-cpp benchmark's SR1_RUNNER_OPTIONS), for both sides of these rows. */
const SR1_ENGINE_RUNNER = { weightsAs: 'initializers', fused: true } as const;

/** The shape of the multi-turn workload: what `rolloutWorkload` draws from. */
export interface RolloutWorkloadOptions {
  trajectories: number;
  /** Each trajectory has 1..maxTurns turns (drawn uniformly). */
  maxTurns: number;
  /** Prompt lengths, inclusive range. */
  promptTokens: readonly [number, number];
  /** Tokens generated per turn before its (emulated) stop, inclusive range. */
  turnTokens: readonly [number, number];
  /** The information block appended after every turn but the last. */
  infoTokens: number;
  /** Token ids are drawn from [1, idLimit): inside the vocabulary, below its EOS. */
  idLimit: number;
  seed: number;
}

/** The sizes of one mode of the engine benchmark. */
export interface EnginePerfSizes {
  /** The random Qwen2 model (`benchModelConfig` of llama-cpp-speed.mjs). */
  hidden: number;
  layers: number;
  workload: RolloutWorkloadOptions;
  /** node-llama-cpp's sequences per context, swept (each with every thread count); its best is kept. */
  peerSequences: number[];
  /** The event-loop row: one generation of `batch` prompts of `promptTokens`, `newTokens` each. */
  eventLoop: { batch: number; promptTokens: number; newTokens: number };
}

export const ENGINE_PERF_SIZES = {
  full: {
    hidden: 512, // with 8 layers and vocab 2048: the 25.2M-parameter model of the llama-cpp rows
    layers: 8,
    workload: {
      trajectories: 64, // issue #15's rollout-multiturn shape
      maxTurns: 4,
      promptTokens: [80, 120], // about 100 tokens
      turnTokens: [20, 120], // random stop points
      infoTokens: 300, // a Search-R1 information block
      idLimit: 2000,
      seed: 2,
    },
    // One sequence decodes about 45 tok/s on a 2-core box (the decode-b1 row): minutes for this workload, never the best.
    peerSequences: [4, 16, 64],
    eventLoop: { batch: 32, promptTokens: 32, newTokens: 64 },
  },
  quick: {
    hidden: 128,
    layers: 2,
    workload: {
      trajectories: 8,
      maxTurns: 2,
      promptTokens: [16, 24],
      turnTokens: [4, 12],
      infoTokens: 32,
      idLimit: 2000,
      seed: 2,
    },
    peerSequences: [1, 4],
    eventLoop: { batch: 4, promptTokens: 16, newTokens: 8 },
  },
} satisfies Record<'full' | 'quick', EnginePerfSizes>;

/** One trajectory of the workload. */
export interface WorkloadTrajectory {
  prompt: number[];
  /** Tokens to generate in each turn (the turn then stops). */
  turns: number[];
  /** `info[t]` is appended after turn t; one block fewer than turns. */
  info: number[][];
}

function checkRange(range: readonly [number, number], field: string, min: number): void {
  const [low, high] = range;
  if (!Number.isInteger(low) || !Number.isInteger(high) || low < min || high < low) {
    throw new BenchInvariantError(
      `workload.${field} is [${low}, ${high}]; expected integers ${min} ≤ low ≤ high`,
    );
  }
}

/** The seeded workload, the same for both sides. */
export function rolloutWorkload(options: RolloutWorkloadOptions): WorkloadTrajectory[] {
  checkRange(options.promptTokens, 'promptTokens', 1);
  checkRange(options.turnTokens, 'turnTokens', 1);
  for (const field of ['trajectories', 'maxTurns', 'infoTokens', 'idLimit'] as const) {
    if (!Number.isInteger(options[field]) || options[field] < (field === 'idLimit' ? 2 : 1)) {
      throw new BenchInvariantError(`workload.${field} is ${options[field]}; expected a positive integer`);
    }
  }
  const rng = createRng(options.seed);
  const between = ([low, high]: readonly [number, number]) => low + rng.int(high - low + 1);
  const ids = (length: number) => Array.from({ length }, () => 1 + rng.int(options.idLimit - 1));
  return Array.from({ length: options.trajectories }, () => {
    const count = 1 + rng.int(options.maxTurns);
    const prompt = ids(between(options.promptTokens));
    const turns = Array.from({ length: count }, () => between(options.turnTokens));
    const info = Array.from({ length: count - 1 }, () => ids(options.infoTokens));
    return { prompt, turns, info };
  });
}

/** Totals of a workload: tokens generated, prompt and information tokens, turns, longest context. */
export function workloadTotals(plan: readonly WorkloadTrajectory[]): {
  generated: number;
  promptTokens: number;
  infoTokens: number;
  turns: number;
  longestContext: number;
} {
  let generated = 0;
  let promptTokens = 0;
  let infoTokens = 0;
  let turns = 0;
  let longestContext = 0;
  for (const trajectory of plan) {
    const own = trajectory.turns.reduce((sum, count) => sum + count, 0);
    const info = trajectory.info.reduce((sum, block) => sum + block.length, 0);
    generated += own;
    promptTokens += trajectory.prompt.length;
    infoTokens += info;
    turns += trajectory.turns.length;
    longestContext = Math.max(longestContext, trajectory.prompt.length + own + info);
  }
  return { generated, promptTokens, infoTokens, turns, longestContext };
}

/** One run of the workload by one side at one setting. */
export interface RolloutRun {
  threads: number;
  /** llama.cpp's sequences on its context; sr1 runs every trajectory at once. */
  sequences?: number;
  generated: number;
  seconds: number;
}

/** The event-loop delay on the main thread while one batch generation runs, at one thread count. */
export interface EventLoopRun {
  threads: number;
  /** The batch decoded by the engine worker (the product path). */
  worker: { p99Ms: number; maxMs: number; seconds: number };
  /** The same batch generated on the main thread (`generate` in-thread). */
  inThread: { p99Ms: number; maxMs: number; seconds: number };
}

/** What `measureEngine` returns; `engineRows` turns it into table rows. */
export interface EnginePerfResult {
  parameters: number;
  hidden: number;
  layers: number;
  llamaCppVersion: string;
  workload: RolloutWorkloadOptions;
  totals: ReturnType<typeof workloadTotals>;
  threads: number[];
  sr1: RolloutRun[];
  llamaCpp: RolloutRun[];
  eventLoop: { batch: number; promptTokens: number; newTokens: number; runs: EventLoopRun[] };
}

const rate = (run: RolloutRun) => run.generated / run.seconds;

/** The `rollout-multiturn` and `eventloop-p99` rows: each side at its best setting of those tried. */
export function engineRows(result: EnginePerfResult): MeasuredRow[] {
  const { totals, workload } = result;
  for (const run of [...result.sr1, ...result.llamaCpp]) {
    if (run.generated !== totals.generated) {
      throw new BenchInvariantError(
        `a rollout run (${run.sequences === undefined ? 'sr1' : `llama.cpp, ${run.sequences} sequences`}, ` +
          `${threadsText(run.threads)}) generated ${run.generated} tokens; expected the workload's ${totals.generated}`,
      );
    }
  }
  if (result.sr1.length === 0 || result.llamaCpp.length === 0 || result.eventLoop.runs.length === 0) {
    throw new BenchInvariantError(
      'engine benchmark returned no runs; expected one per thread count and side',
    );
  }
  const tried = result.threads;
  const sr1 = pickBestThreads(
    result.sr1.map((run) => ({ threads: run.threads, value: rate(run) })),
    'higher',
  );
  const sr1Run = result.sr1.find((run) => run.threads === sr1.threads)!;
  // The peer's best over every (threads, sequences); ties go to fewer threads, then fewer sequences.
  const peerRun = [...result.llamaCpp]
    .sort((a, b) => a.threads - b.threads || (a.sequences ?? 0) - (b.sequences ?? 0))
    .reduce((best, run) => (rate(run) > rate(best) ? run : best));
  const model =
    `random Qwen2-shaped model (${(result.parameters / 1e6).toFixed(1)}M parameters: hidden ${result.hidden}, ` +
    `${result.layers} layers, vocab 2048, F32 on both sides)`;
  const sequencesTried = [...new Set(result.llamaCpp.map((run) => run.sequences ?? 1))].sort((a, b) => a - b);
  const rollout: MeasuredRow = {
    id: 'rollout-multiturn',
    what:
      `Search-R1-shaped rollout, aggregate generated tokens/s: ${workload.trajectories} trajectories of 1–${workload.maxTurns} ` +
      `turns (seed ${workload.seed}; ${totals.turns} turns, ${totals.generated.toLocaleString('en-US')} generated tokens, ` +
      `${workload.turnTokens[0]}–${workload.turnTokens[1]} per turn as random stop points, ` +
      `${workload.promptTokens[0]}–${workload.promptTokens[1]}-token prompts, a ${workload.infoTokens}-token information ` +
      `block after every turn but the last), greedy, ${model}: sr1 (EngineWorker: weights as session initializers, fused ops, continuous-batching scheduler, ` +
      `all trajectories at once, KV kept between turns; ${sr1Run.seconds.toFixed(2)} s) vs llama.cpp (node-llama-cpp ` +
      `${result.llamaCppVersion}, GGUF from \`exportGguf\`, one context with ${peerRun.sequences} sequences of ` +
      `${sequencesTried.join(', ')} tried, each keeping its KV between turns; ${peerRun.seconds.toFixed(2)} s), ` +
      bestThreadsText(tried, [
        { name: 'sr1', threads: sr1.threads },
        { name: 'llama.cpp', threads: peerRun.threads },
      ]),
    sr1: { value: sr1.value, unit: 'tok/s' },
    peer: { value: rate(peerRun), unit: 'tok/s' },
    better: 'higher',
    threads: { sr1: sr1.threads, peer: peerRun.threads, tried },
  };
  const { batch, promptTokens, newTokens, runs } = result.eventLoop;
  const eventTried = runs.map((run) => run.threads);
  const worker = pickBestThreads(
    runs.map((run) => ({ threads: run.threads, value: run.worker.p99Ms })),
    'lower',
  );
  const inThread = pickBestThreads(
    runs.map((run) => ({ threads: run.threads, value: run.inThread.p99Ms })),
    'lower',
  );
  const workerRun = runs.find((run) => run.threads === worker.threads)!;
  const inThreadRun = runs.find((run) => run.threads === inThread.threads)!;
  const eventLoop: MeasuredRow = {
    id: 'eventloop-p99',
    what:
      `p99 event-loop delay on the main thread (perf_hooks.monitorEventLoopDelay, 1 ms resolution) while a batch of ` +
      `${batch} × ${promptTokens}-token prompts generates ${newTokens} greedy tokens each, same model: sr1's engine ` +
      `worker (max ${workerRun.worker.maxMs.toFixed(1)} ms, ${workerRun.worker.seconds.toFixed(2)} s) vs the same ` +
      `\`generate\` on the main thread (max ${inThreadRun.inThread.maxMs.toFixed(1)} ms, ` +
      `${inThreadRun.inThread.seconds.toFixed(2)} s), ` +
      bestThreadsText(eventTried, [
        { name: 'worker', threads: worker.threads },
        { name: 'in-thread', threads: inThread.threads },
      ]),
    sr1: { value: worker.value, unit: 'ms' },
    peer: { value: inThread.value, unit: 'ms' },
    better: 'lower',
    threads: { sr1: worker.threads, peer: inThread.threads, tried: eventTried },
  };
  return [rollout, eventLoop];
}

/** The model folder's and GGUF's tokenizer: @sr1/model's small BPE tokenizer (vocab 2048). */
function smallTokenizerDir(): string {
  return fileURLToPath(new URL('../assets/tokenizer-small', import.meta.resolve('@sr1/model')));
}

/** p99 and max of the main thread's event-loop delay while `work` runs. */
async function eventLoopDelay(work: () => Promise<unknown>): Promise<EventLoopRun['worker']> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  histogram.disable();
  return { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6, seconds };
}

/** What the workload needs from an engine's session API (EngineWorker's start/continue/release). */
interface SessionEngine {
  start(
    prompt: readonly number[],
    options: { maxNewTokens: number; temperature: number; eosTokenIds: number[] },
  ): Promise<{ session: number; result: { tokenIds: number[] } }>;
  continue(
    session: number,
    append: readonly number[],
    options: { maxNewTokens: number; temperature: number; eosTokenIds: number[] },
  ): Promise<{ tokenIds: number[] }>;
  release(session: number): void;
}

/** Every trajectory at once through sessions; each turn continues the session's cached context. */
export async function runSessions(
  engine: SessionEngine,
  plan: readonly WorkloadTrajectory[],
): Promise<{ generated: number; seconds: number }> {
  let generated = 0;
  const started = performance.now();
  await Promise.all(
    plan.map(async (trajectory) => {
      let session = 0;
      for (const [turn, budget] of trajectory.turns.entries()) {
        const options = { maxNewTokens: budget, temperature: 0, eosTokenIds: [] };
        const result =
          turn === 0
            ? await engine.start(trajectory.prompt, options).then((started) => {
                session = started.session;
                return started.result;
              })
            : await engine.continue(session, trajectory.info[turn - 1]!, options);
        generated += result.tokenIds.length;
      }
      engine.release(session);
    }),
  );
  return { generated, seconds: (performance.now() - started) / 1000 };
}

/** The slice of node-llama-cpp 3 this benchmark uses. */
interface LlamaSequence {
  clearHistory(): Promise<void>;
  evaluate(
    tokens: readonly number[],
    options: { temperature: number; yieldEogToken: boolean },
  ): AsyncGenerator<number, void, unknown>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(options: {
    contextSize: number;
    batchSize: number;
    threads: number;
    sequences: number;
    flashAttention: boolean;
  }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
interface NodeLlamaCpp {
  getLlama(options: { gpu: false }): Promise<{
    loadModel(options: { modelPath: string; gpuLayers: number }): Promise<LlamaModel>;
  }>;
}

/**
 * The workload on `sequences` sequences of one llama.cpp context: each sequence takes the next
 * trajectory when it is free, and evaluates only what a turn appends (the last sampled token and
 * the information block) on top of its kept context; concurrent sequences share each batch.
 */
async function runLlamaSequences(
  model: LlamaModel,
  plan: readonly WorkloadTrajectory[],
  setting: { threads: number; sequences: number; contextSize: number },
): Promise<{ generated: number; seconds: number }> {
  const context = await model.createContext({
    contextSize: setting.contextSize,
    batchSize: 512, // as sr1's scheduler prefills at most 512 tokens per step
    threads: setting.threads,
    sequences: setting.sequences,
    flashAttention: false,
  });
  try {
    const sequences = Array.from({ length: setting.sequences }, () => context.getSequence());
    // warm-up: one short generation per sequence
    await Promise.all(
      sequences.map(async (sequence) => {
        for await (const _ of sequence.evaluate([1, 2, 3], { temperature: 0, yieldEogToken: true })) break;
        await sequence.clearHistory();
      }),
    );
    let next = 0;
    let generated = 0;
    const started = performance.now();
    await Promise.all(
      sequences.map(async (sequence) => {
        while (next < plan.length) {
          const trajectory = plan[next++]!;
          await sequence.clearHistory();
          let input: number[] = trajectory.prompt;
          for (const [turn, budget] of trajectory.turns.entries()) {
            let count = 0;
            let last = -1;
            // The token sampled last is yielded but not evaluated: the next turn evaluates it first.
            for await (const token of sequence.evaluate(input, { temperature: 0, yieldEogToken: true })) {
              last = token;
              if (++count >= budget) break;
            }
            generated += count;
            if (turn < trajectory.turns.length - 1) input = [last, ...trajectory.info[turn]!];
          }
        }
      }),
    );
    return { generated, seconds: (performance.now() - started) / 1000 };
  } finally {
    await context.dispose();
  }
}

/** Where `measureEngine` finds what it needs. */
export interface EnginePerfOptions {
  sizes: EnginePerfSizes;
  threads: number[];
  llamacppDir: string;
  llamaCppVersion: string;
  /** `benchModelConfig(hidden, layers)` of packages/model/scripts/llama-cpp-speed.mjs. */
  modelConfig: (hidden: number, layers: number) => DecoderConfig;
  log: (line: string) => void;
}

/** Runs both measurements of the engine benchmark; `engineRows` makes the rows. */
export async function measureEngine(options: EnginePerfOptions): Promise<EnginePerfResult> {
  const { sizes, threads, log } = options;
  const config = options.modelConfig(sizes.hidden, sizes.layers);
  const weights = initWeights(config, createRng(1));
  const plan = rolloutWorkload(sizes.workload);
  const totals = workloadTotals(plan);
  const work = mkdtempSync(join(tmpdir(), 'sr1-engine-perf-'));
  try {
    const modelDir = join(work, 'model');
    const tokenizerDir = smallTokenizerDir();
    await saveModelFolder(modelDir, { config, weights }, { tokenizerDir });
    const tokenizer = await loadTokenizer(modelDir);
    const rng = createRng(3);
    const { batch, promptTokens, newTokens } = sizes.eventLoop;
    const prompts = Array.from({ length: batch }, () =>
      Array.from({ length: promptTokens }, () => 1 + rng.int(sizes.workload.idLimit - 1)),
    );
    const generateOptions = { maxNewTokens: newTokens, temperature: 0, eosTokenIds: [] };
    const warmOptions = { ...generateOptions, maxNewTokens: 2 };

    const sr1: RolloutRun[] = [];
    const eventLoopRuns: EventLoopRun[] = [];
    for (const count of threads) {
      log(`engine: sr1, ${threadsText(count)}`);
      const engine = await EngineWorker.start({
        modelDir,
        threads: count,
        ...SR1_ENGINE_RUNNER,
        scheduler: { maxBatchSize: Math.max(64, sizes.workload.trajectories) },
      });
      let workerDelay: EventLoopRun['worker'];
      try {
        await engine.generate(prompts.slice(0, 2), warmOptions);
        workerDelay = await eventLoopDelay(() => engine.generate(prompts, generateOptions));
        await runSessions(engine, rolloutWorkload({ ...sizes.workload, trajectories: 2, seed: 99 })); // warm
        sr1.push({ threads: count, ...(await runSessions(engine, plan)) });
      } finally {
        await engine.close();
      }
      const runner = await OrtDecoderRunner.create(config, weights, { threads: count, ...SR1_ENGINE_RUNNER });
      try {
        await generate(runner, tokenizer, prompts.slice(0, 2), warmOptions);
        const inThread = await eventLoopDelay(() => generate(runner, tokenizer, prompts, generateOptions));
        eventLoopRuns.push({ threads: count, worker: workerDelay, inThread });
      } finally {
        await runner.dispose();
      }
    }

    const ggufFile = join(work, 'model.gguf');
    await exportGguf(ggufFile, { config, weights }, tokenizerDir);
    const entry = join(options.llamacppDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
    const { getLlama } = (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: ggufFile, gpuLayers: 0 });
    const contextSize = Math.ceil((totals.longestContext + 16) / 256) * 256;
    const llamaCpp: RolloutRun[] = [];
    try {
      for (const count of threads) {
        for (const sequences of sizes.peerSequences) {
          log(`engine: llama.cpp, ${threadsText(count)}, ${sequences} sequences`);
          const run = await runLlamaSequences(model, plan, { threads: count, sequences, contextSize });
          llamaCpp.push({ threads: count, sequences, ...run });
        }
      }
    } finally {
      await model.dispose();
    }
    return {
      parameters: countParameters(weights),
      hidden: sizes.hidden,
      layers: sizes.layers,
      llamaCppVersion: options.llamaCppVersion,
      workload: sizes.workload,
      totals,
      threads,
      sr1,
      llamaCpp,
      eventLoop: { batch, promptTokens, newTokens, runs: eventLoopRuns },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
