// Measures what the engine worker and the continuous-batching scheduler change, on a random
// Qwen2-shaped model (run after `npm run build -w @sr1/model`):
// - event-loop delay (p99, perf_hooks.monitorEventLoopDelay) on the main thread while a batch
//   generation runs in process and in the engine worker;
// - a Search-R1-shaped multi-turn workload (trajectories, up to `turns` turns with seeded random
//   stop points, `infoTokens`-token information blocks after each turn, a simulated retrieval
//   latency), generated tokens/s: lock-step rounds that re-prefill every context each turn and
//   wait for the whole round, against sessions that continue their KV cache and search on their own.
// Both workloads use the same scheduler; only KV reuse and the round barrier differ.
//   node scripts/engine-speed.mjs [--hidden 512 --layers 8] [--trajectories 64] [--json]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchModelConfig } from './llama-cpp-speed.mjs';

export const ENGINE_SPEED_DEFAULTS = {
  hidden: 512, // with 8 layers and vocab 2048: the 25.2M-parameter model of the llama.cpp rows
  layers: 8,
  threads: 2, // the 2-core machines the recorded numbers come from
  batch: 32, // the event-loop row: a batch-32 generation
  promptLength: 32,
  newTokens: 64,
  trajectories: 64, // the rollout-multiturn shape of issue #15
  turns: 4,
  infoTokens: 300,
  minTurnTokens: 8, // random stop points: each turn generates between these many tokens
  maxTurnTokens: 64,
  searchMs: 20, // simulated retrieval latency per search call
};

/** p99 of the main thread's event-loop delay, in ms, while `work` runs. */
async function eventLoopP99(work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  await work();
  const seconds = (performance.now() - started) / 1000;
  histogram.disable();
  return { p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6, seconds };
}

/**
 * The multi-turn workload. `reuse`: sessions continue their cache and each trajectory searches on
 * its own; otherwise every turn restarts from the whole context and a round ends for all at once.
 */
async function multiTurn(scheduler, plan, options, reuse) {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  let generated = 0;
  const started = performance.now();
  if (reuse) {
    await Promise.all(
      plan.map(async (trajectory) => {
        let session;
        for (const [turn, budget] of trajectory.budgets.entries()) {
          const turnOptions = { maxNewTokens: budget, temperature: 0, eosTokenIds: [] };
          let result;
          if (turn === 0) ({ session, result } = await scheduler.start(trajectory.prompt, turnOptions));
          else result = await scheduler.continue(session, trajectory.info[turn - 1], turnOptions);
          generated += result.tokenIds.length;
          if (turn < trajectory.budgets.length - 1) await sleep(options.searchMs);
        }
        scheduler.release(session);
      }),
    );
  } else {
    const contexts = plan.map((trajectory) => [...trajectory.prompt]);
    for (let turn = 0; turn < options.turns; turn++) {
      const active = plan.map((_, i) => i).filter((i) => turn < plan[i].budgets.length);
      if (active.length === 0) break;
      await Promise.all(
        active.map(async (i) => {
          const { result } = await scheduler.start(contexts[i], {
            maxNewTokens: plan[i].budgets[turn],
            temperature: 0,
            eosTokenIds: [],
            keepCache: false,
          });
          generated += result.tokenIds.length;
          contexts[i].push(...result.tokenIds);
          if (turn < plan[i].budgets.length - 1) contexts[i].push(...plan[i].info[turn]);
        }),
      );
      await sleep(options.searchMs); // one batched retrieval per round
    }
  }
  const seconds = (performance.now() - started) / 1000;
  return { generated, seconds, tokensPerSecond: generated / seconds, stats: scheduler.stats() };
}

/** Runs both measurements; returns plain numbers. */
export async function measureEngineSpeed(overrides = {}) {
  const options = { ...ENGINE_SPEED_DEFAULTS, ...overrides };
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const sr1Model = await import(pathToFileURL(join(packageDir, 'dist', 'index.js')).href);
  const { createRng } = await import('@sr1/core');
  const config = benchModelConfig(options.hidden, options.layers);
  const weights = sr1Model.initWeights(config, createRng(1));
  const work = mkdtempSync(join(tmpdir(), 'sr1-engine-speed-'));
  try {
    const modelDir = join(work, 'model');
    await sr1Model.saveModelFolder(
      modelDir,
      { config, weights },
      { tokenizerDir: join(packageDir, 'assets', 'tokenizer-small') },
    );
    const tokenizer = await sr1Model.loadTokenizer(modelDir);
    const rng = createRng(2);
    const randomIds = (length) => Array.from({ length }, () => 1 + rng.int(2000));

    // 1. event-loop delay during a batch generation
    const prompts = Array.from({ length: options.batch }, () => randomIds(options.promptLength));
    const generateOptions = { maxNewTokens: options.newTokens, temperature: 0, eosTokenIds: [] };
    const runner = await sr1Model.OrtDecoderRunner.create(config, weights, { threads: options.threads });
    await sr1Model.generate(runner, tokenizer, prompts.slice(0, 2), { ...generateOptions, maxNewTokens: 2 }); // compile
    const inProcess = await eventLoopP99(() =>
      sr1Model.generate(runner, tokenizer, prompts, generateOptions),
    );
    const engine = await sr1Model.EngineWorker.start({ modelDir, threads: options.threads });
    await engine.generate(prompts.slice(0, 2), { ...generateOptions, maxNewTokens: 2 });
    const inWorker = await eventLoopP99(() => engine.generate(prompts, generateOptions));
    await engine.close();

    // 2. the multi-turn workload, same plan both ways
    const plan = Array.from({ length: options.trajectories }, () => {
      const turns = 1 + rng.int(options.turns);
      return {
        prompt: randomIds(options.promptLength + rng.int(64)),
        budgets: Array.from(
          { length: turns },
          () => options.minTurnTokens + rng.int(options.maxTurnTokens - options.minTurnTokens + 1),
        ),
        info: Array.from({ length: turns - 1 }, () => randomIds(options.infoTokens)),
      };
    });
    const lockStep = await multiTurn(
      new sr1Model.ContinuousBatchScheduler(runner, tokenizer, { maxBatchSize: options.trajectories }),
      plan,
      options,
      false,
    );
    const sessions = await multiTurn(
      new sr1Model.ContinuousBatchScheduler(runner, tokenizer, { maxBatchSize: options.trajectories }),
      plan,
      options,
      true,
    );
    await runner.dispose();
    return {
      parameters: sr1Model.countParameters(weights),
      options,
      eventLoop: { inProcess, inWorker },
      multiTurn: { lockStep, sessions },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const numeric = Object.fromEntries(
    Object.keys(ENGINE_SPEED_DEFAULTS).map((key) => [key, { type: 'string' }]),
  );
  const { values } = parseArgs({ options: { ...numeric, json: { type: 'boolean', default: false } } });
  const overrides = {};
  for (const key of Object.keys(ENGINE_SPEED_DEFAULTS)) {
    if (values[key] !== undefined) overrides[key] = Number(values[key]);
  }
  const result = await measureEngineSpeed(overrides);
  if (values.json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const { eventLoop, multiTurn: turns } = result;
    const f = (x) => x.toFixed(1);
    console.log(
      `model: ${result.parameters.toLocaleString('en-US')} parameters, ${result.options.threads} threads`,
    );
    console.log(
      `event-loop p99 during a batch-${result.options.batch} generation: in process ${f(eventLoop.inProcess.p99Ms)} ms ` +
        `(max ${f(eventLoop.inProcess.maxMs)}), in the worker ${f(eventLoop.inWorker.p99Ms)} ms (max ${f(eventLoop.inWorker.maxMs)})`,
    );
    console.log(
      `multi-turn, ${result.options.trajectories} trajectories: lock-step re-prefill ${f(turns.lockStep.tokensPerSecond)} tok/s ` +
        `(${turns.lockStep.stats.prefillTokens} tokens prefilled, ${f(turns.lockStep.seconds)} s); ` +
        `sessions with KV reuse ${f(turns.sessions.tokensPerSecond)} tok/s (${turns.sessions.stats.prefillTokens} prefilled, ` +
        `${turns.sessions.stats.reusedTokens} reused, ${f(turns.sessions.seconds)} s); ` +
        `ratio ${(turns.sessions.tokensPerSecond / turns.lockStep.tokensPerSecond).toFixed(2)}`,
    );
  }
}
