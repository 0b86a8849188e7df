// `sr1-train rl`: Search-R1 RL end to end. Per step: sample prompts → n rollouts each through the
// engine and the retriever → rewards → old/reference log-probs → advantages → PPO-style epochs →
// metrics; greedy validation every N steps; atomic checkpoints; exact resume after kill -9.
// Rollouts and validation run in an engine worker on the trainer's shared weights (the default: the
// async loop, KV kept across turns; a new policy version after every optimizer step) or, with
// `engine.rollout: 'lockstep'`, on the main thread; training runs in a train worker on the same
// shared weights (`engine.worker`: in the engine worker's own thread with the async loop, so one
// worker thread runs every ORT session) or on the main thread.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, InvalidInputError } from '@sr1/core';
import { type EvalSummary, evaluateMethod, readJsonlDataset, summarizeByType } from '@sr1/eval';
import {
  cloneWeights,
  type DecoderConfig,
  loadModelFolder,
  loadTokenizer,
  type ModelTokenizer,
  OrtCritic,
  OrtDecoderRunner,
  type OrtDecoderRunnerOptions,
  OrtTrainablePolicy,
  readSafetensors,
  saveModelFolder,
  shareWeights,
  TrainWorker,
  type WeightMap,
  WorkerCritic,
  WorkerTrainablePolicy,
  writeSafetensors,
} from '@sr1/model';
import { isNormOrBias } from '@sr1/optim';
import { InProcessRetriever } from '@sr1/retriever';
import { applySearchCost, exactMatch, formatReward, MinimalSearches } from '@sr1/reward';
import { type AdvantageEstimator, advantageEstimator } from '@sr1/rl';
import { encodePrompt } from '@sr1/rollout';
import {
  checkRunDir,
  clearRunHistory,
  INITIAL_RL_STATE,
  inReferenceOrder,
  type LoadedCheckpoint,
  loadLatestCheckpoint,
  MetricsWriter,
  Progress,
  type RlSample,
  type RlState,
  readOptimizerState,
  restoreRlState,
  saveCheckpoint,
  type TrainablePolicy,
  trainRl,
  writeOptimizerState,
} from '@sr1/train';
import {
  inThreadEngine,
  type TrainerEngine,
  type WorkerTrainerEngine,
  workerEngine,
} from './engine-generator.js';
import { promptOptions } from './prompt-options.js';
import { RUN_FILES, writeTrajectories } from './report.js';
import type { RlConfig } from './rl-config.js';

export interface RlRunResult {
  steps: number;
  validations: { step: number; summary: EvalSummary }[];
  metricsFile: string;
  /** The query cache over this process's rollouts (validation searches not counted); null without a cache. */
  searchCache: SearchCacheTotals | null;
}

/** What the query cache did for the rollouts of a run (this process only: a resumed run counts from its restart). */
export interface SearchCacheTotals {
  hits: number;
  misses: number;
  hitRate: number;
  /** Wall seconds of the searches that ran (the misses). */
  searchSeconds: number;
  /** Estimated, not measured: hits × the mean search time of a miss. */
  savedSecondsEstimate: number;
}

/** n* per question for the OTC cost, saved in trainer-state.json (absent in runs without one). */
function restoreMinimalSearches(checkpoint: LoadedCheckpoint | null): MinimalSearches {
  const saved = (checkpoint?.trainerState as { minimalSearches?: unknown } | undefined)?.minimalSearches;
  if (saved === undefined) return new MinimalSearches();
  if (!Array.isArray(saved)) {
    throw new InvalidInputError({
      code: 'checkpoint',
      file: join(checkpoint!.dir, 'trainer-state.json'),
      field: 'state.minimalSearches',
      reason: 'expected an array of [question id, searches] pairs',
    });
  }
  return MinimalSearches.from(saved as [string, number][]);
}

/** The advantage estimator of each algorithm: the paper's PPO runs GAE on a critic, GRPO its group baseline. */
const ALGORITHM_ADVANTAGE = { ppo: 'gae', grpo: 'grpo' } as const satisfies Record<
  RlConfig['algorithm'],
  AdvantageEstimator
>;

/** The validation history saved beside the loop's state in trainer-state.json, checked before the run folder changes. */
function restoreValidations(checkpoint: LoadedCheckpoint): { step: number; summary: EvalSummary }[] {
  const validations = (checkpoint.trainerState as { validations?: unknown }).validations;
  if (!Array.isArray(validations)) {
    throw new InvalidInputError({
      code: 'checkpoint',
      file: join(checkpoint.dir, 'trainer-state.json'),
      field: 'state.validations',
      reason: 'expected an array',
    });
  }
  return validations as { step: number; summary: EvalSummary }[];
}

/**
 * The in-thread engine on the trainer's weights: their own buffers, or a copy refreshed at every
 * policy version when they are shared (onnxruntime-node takes no SharedArrayBuffer).
 */
async function lockstepEngine(
  config: DecoderConfig,
  weights: WeightMap,
  tokenizer: ModelTokenizer,
  options: OrtDecoderRunnerOptions,
): Promise<TrainerEngine> {
  const shared = [...weights.values()].some((tensor) => tensor.data.buffer instanceof SharedArrayBuffer);
  const runnerWeights = shared ? cloneWeights(weights) : weights;
  const runner = await OrtDecoderRunner.create(config, runnerWeights, options);
  return inThreadEngine(runner, tokenizer, () => {
    if (shared) for (const [name, tensor] of weights) runnerWeights.get(name)!.data.set(tensor.data);
  });
}

export async function runRl(
  config: RlConfig,
  options: { resume: boolean; force?: boolean; quiet?: boolean },
): Promise<RlRunResult> {
  // Everything is read and validated before the run folder is touched: a refused or failed start
  // leaves an earlier run's metrics.jsonl, checkpoints and resolved config as they were.
  checkRunDir(config.output.dir, options);
  const base = await loadModelFolder(config.policy);
  const tokenizer = await loadTokenizer(config.policy);
  const engineOptions = {
    device: config.engine.device,
    ...(config.engine.threads > 0 ? { threads: config.engine.threads } : {}),
    precision: config.engine.precision,
  };
  const workerThreads = config.engine.workerThreads > 0 ? config.engine.workerThreads : config.engine.threads;
  const prompt = promptOptions(config.prompt, config.rollout);
  if (config.rollout.toolFormat === 'hermes' && !tokenizer.hasChatTemplate) {
    throw new InvalidInputError({
      code: 'config_invalid',
      file: config.policy,
      field: 'rollout.toolFormat',
      reason: "'hermes' describes the tools through the chat template; this policy's tokenizer has none",
    });
  }
  const checkpoint = options.resume ? await loadLatestCheckpoint(config.output.dir) : null;
  let state: RlState = checkpoint === null ? INITIAL_RL_STATE : restoreRlState(checkpoint);
  const validations = checkpoint === null ? [] : restoreValidations(checkpoint);
  // The base model's tensor order, not the checkpoint file's (sorted): see inReferenceOrder.
  const loaded =
    checkpoint === null
      ? base.weights
      : inReferenceOrder(
          (await loadModelFolder(checkpoint.dir)).weights,
          base.weights,
          join(checkpoint.dir, 'model.safetensors'),
        );
  // The trained weights. With engine.worker they live in SharedArrayBuffers: the optimiser updates
  // them in place here, the train worker reads them before each run, the engine worker snapshots
  // them at each policy version, checkpoints are written from them.
  const weights = config.engine.worker ? shareWeights(loaded) : loaded;
  // Generation: an engine worker on the actor's weights (the shared buffers themselves with
  // engine.worker, else a shared copy), re-snapshotted after every optimizer step; or (lockstep) a
  // runner on the main thread reading the actor's buffers directly.
  const startWorkerEngine = (): Promise<WorkerTrainerEngine> =>
    workerEngine(
      { config: base.config, weights, tokenizerDir: config.policy },
      {
        device: config.engine.device,
        precision: config.engine.precision,
        ...(workerThreads > 0 ? { threads: workerThreads } : {}),
      },
    );
  // The LRU query cache answers the repeated searches of a prompt's rollouts without searching again.
  const retriever = await InProcessRetriever.open(
    config.index,
    config.searchCache > 0 ? { cache: { maxEntries: config.searchCache } } : {},
  );
  const cacheTotals = { hits: 0, misses: 0, searchSeconds: 0 };
  const minimalSearches = restoreMinimalSearches(checkpoint);
  const train = readJsonlDataset(config.data.train).questions;
  const validation = readJsonlDataset(config.data.validation).questions.slice(0, config.data.validationLimit);
  const advantage = ALGORITHM_ADVANTAGE[config.algorithm];

  // The actor, its reference and the critic, hosted by one thread (their runs come one at a time):
  // `trainWorker`, or the main thread without one.
  const trainees = async (trainWorker: TrainWorker | undefined) => {
    const policy = (policyWeights: WeightMap): Promise<TrainablePolicy & { dispose(): Promise<void> }> =>
      trainWorker !== undefined
        ? WorkerTrainablePolicy.create(base.config, shareWeights(policyWeights), {
            ...engineOptions,
            worker: trainWorker,
          })
        : OrtTrainablePolicy.create(base.config, policyWeights, engineOptions);
    const actor =
      trainWorker !== undefined
        ? await WorkerTrainablePolicy.create(base.config, weights, { ...engineOptions, worker: trainWorker })
        : await OrtTrainablePolicy.create(base.config, weights, engineOptions);
    // The reference is frozen: its own copy of the base weights, which the actor (and the in-thread
    // runner, which shares the actor's buffers) update in place when training starts from the base.
    const reference = config.klCoef > 0 ? await policy(cloneWeights(base.weights)) : undefined;
    // PPO's critic: the policy's trunk with a fresh value head (as veRL), its own AdamW and warm-up.
    const critic = !advantageEstimator(advantage).needsCritic
      ? undefined
      : trainWorker !== undefined
        ? await WorkerCritic.fromPolicy(base.config, base.weights, createRng(config.seed + 17), {
            ...engineOptions,
            worker: trainWorker,
          })
        : await OrtCritic.fromPolicy(base.config, base.weights, createRng(config.seed + 17), engineOptions);
    if (critic !== undefined && checkpoint !== null) {
      const { tensors } = await readSafetensors(join(checkpoint.dir, 'critic.safetensors'));
      for (const [name, tensor] of tensors) critic.parameters.get(name)?.set(tensor.data);
      state = {
        ...state,
        criticOptimizer: await readOptimizerState(join(checkpoint.dir, 'critic-optimizer.safetensors')),
      };
    }
    return { trainWorker, actor, reference, critic };
  };
  // With engine.worker and the async engine, one worker thread runs every ORT session of the run:
  // the engine worker, started first, hosts the training sessions too (TrainWorker.over); lockstep
  // gives training a worker thread of its own. A start that fails after the engine worker has
  // started ends it (it would keep the process alive).
  const sharedThreadEngine =
    config.engine.worker && config.engine.rollout === 'async-worker' ? await startWorkerEngine() : undefined;
  const { trainWorker, actor, reference, critic } = await (async () =>
    trainees(
      !config.engine.worker
        ? undefined
        : sharedThreadEngine !== undefined
          ? await TrainWorker.over(sharedThreadEngine.worker)
          : await TrainWorker.start(),
    ))().catch(async (error: unknown) => {
    await sharedThreadEngine?.dispose();
    throw error;
  });
  const engine: TrainerEngine =
    sharedThreadEngine ??
    (config.engine.rollout === 'async-worker'
      ? await startWorkerEngine()
      : await lockstepEngine(base.config, weights, tokenizer, engineOptions));
  try {
    if (options.force === true && !options.resume) await clearRunHistory(config.output.dir);
    await mkdir(config.output.dir, { recursive: true });
    await writeFile(join(config.output.dir, 'config.resolved.json'), `${JSON.stringify(config, null, 2)}\n`);
    const metrics = new MetricsWriter(join(config.output.dir, 'metrics.jsonl'));
    metrics.truncateAfter(options.resume ? state.step : -1);
    const rolloutConfig = {
      maxTurns: config.rollout.maxTurns,
      maxTokensPerTurn: config.rollout.maxTokensPerTurn,
      maxObsTokens: config.rollout.maxObsTokens,
      topk: config.rollout.topk,
      toolFormat: config.rollout.toolFormat,
      tools: config.rollout.tools,
      maxSearches: config.rollout.maxSearches,
    };
    // The eval methods add the tools to the agent's prompt themselves (from the rollout's toolFormat).
    const { template: agentTemplate, tools: _tools, ...promptRest } = prompt;
    const validate = async (step: number) => {
      const records = await evaluateMethod('agent', 'validation', validation, {
        ...engine.evalParts,
        retriever,
        tokenizer,
        rollout: rolloutConfig,
        prompt: promptRest,
        agentTemplate,
        keepTrajectories: true,
      });
      const summary = summarizeByType('agent', records);
      // The latest validation's trajectories, for `sr1-train report` and the live dashboard.
      await writeTrajectories(join(config.output.dir, RUN_FILES.trajectories), records, validation, {
        decode: (ids) => tokenizer.decode(ids),
        lookupHits: async (query) => (await retriever.search([query], config.rollout.topk))[0] ?? [],
      });
      validations.push({ step, summary });
      metrics.write({
        step,
        'val/exact_match': summary.exactMatch,
        'val/searches_per_question': summary.searchesPerQuestion,
      });
    };

    const progress = options.quiet === true ? null : new Progress(config.steps, 'rl');
    progress?.start(state.step);
    await trainRl(
      {
        actor,
        ...(reference !== undefined ? { reference } : {}),
        ...(critic !== undefined ? { critic } : {}),
      },
      train,
      {
        steps: config.steps,
        promptsPerStep: config.promptsPerStep,
        actorLr: config.actorLr,
        warmupRatio: config.warmupRatio,
        criticLr: config.criticLr,
        criticWarmupRatio: 0.015, // the paper's critic warm-up
        optimizer: { weightDecay: 0.01, noDecay: isNormOrBias }, // veRL's weight decay 0.01
        update: {
          advantage,
          maskRetrievedTokens: config.maskRetrievedTokens,
          ppoEpochs: config.ppoEpochs,
          miniBatchSize: config.miniBatchSize,
          microBatchSize: config.microBatchSize,
          clipRatio: config.clipRatio,
          entropyCoef: config.entropyCoef,
          klMode: config.klCoef <= 0 ? 'none' : config.klMode,
          klCoef: config.klCoef,
          klEstimator: config.klEstimator,
          gamma: 1,
          lambda: 1,
          valueClip: 0.5,
          grpoNormalizeByStd: config.grpoNormalizeByStd,
          aggregation: 'token-mean',
          maxGradNorm: 1,
        },
        seed: config.seed,
        maxNonFiniteSteps: config.maxNonFiniteSteps,
      },
      state,
      {
        collect: async (questions, step) => {
          const started = performance.now();
          // Ids carry the slot in the step: at an epoch boundary one question can fill two slots.
          const prompts = questions.flatMap((question, slot) => {
            const promptTokenIds = encodePrompt(question.question, tokenizer, prompt);
            return Array.from({ length: config.rolloutsPerPrompt }, (_, k) => ({
              id: `${question.id}#${step}.${slot}.${k}`,
              promptTokenIds,
            }));
          });
          const tokensBefore = engine.generatedTokens();
          const engineBefore = await engine.stats();
          const cacheBefore = retriever.cache?.stats();
          const trajectories = await engine.rollout(prompts, {
            retriever,
            tokenizer,
            config: {
              ...rolloutConfig,
              temperature: config.rollout.temperature,
              seed: config.seed * 1_000_003 + step * 101,
            },
          });
          const rolloutSeconds = (performance.now() - started) / 1000;
          const engineAfter = await engine.stats();
          // The worker's scheduler: context tokens prefilled, and those served from a kept KV cache.
          const engineMetrics: Record<string, number> =
            engineBefore === null || engineAfter === null
              ? {}
              : {
                  'engine/prefill_tokens': engineAfter.prefillTokens! - engineBefore.prefillTokens!,
                  'engine/reused_tokens': engineAfter.reusedTokens! - engineBefore.reusedTokens!,
                };
          const cacheMetrics: Record<string, number> = {};
          const cacheAfter = retriever.cache?.stats();
          if (cacheBefore !== undefined && cacheAfter !== undefined) {
            const hits = cacheAfter.hits - cacheBefore.hits;
            const misses = cacheAfter.misses - cacheBefore.misses;
            const searchSeconds = cacheAfter.searchSeconds - cacheBefore.searchSeconds;
            cacheTotals.hits += hits;
            cacheTotals.misses += misses;
            cacheTotals.searchSeconds += searchSeconds;
            Object.assign(cacheMetrics, {
              'retrieval/cache_hits': hits,
              'retrieval/cache_misses': misses,
              'retrieval/cache_hit_rate': hits + misses === 0 ? 0 : hits / (hits + misses),
              'retrieval/search_s': searchSeconds,
              // Estimated, not measured: this step's hits × the mean search time of a miss so far.
              'retrieval/saved_s_est':
                cacheTotals.misses === 0 ? 0 : (hits * cacheTotals.searchSeconds) / cacheTotals.misses,
            });
          }
          const ems = trajectories.map((trajectory, i) => {
            const question = questions[Math.floor(i / config.rolloutsPerPrompt)]!;
            // EM of the answer the policy generated (the invalid-action text contains an <answer> tag too).
            return trajectory.answer === null ? 0 : exactMatch(trajectory.answer, question.golden_answers);
          });
          // OTC's n*: the fewest searches of a correct answer to the question, this step's rollouts included.
          trajectories.forEach((trajectory, i) => {
            const question = questions[Math.floor(i / config.rolloutsPerPrompt)]!;
            minimalSearches.observe(question.id, trajectory.searches.length, ems[i] === 1);
          });
          const samples: RlSample[] = [];
          let exact = 0;
          let searches = 0;
          let refused = 0;
          let costTerms = 0;
          const searchesByType = new Map<string, { searches: number; count: number }>();
          trajectories.forEach((trajectory, i) => {
            const slot = Math.floor(i / config.rolloutsPerPrompt);
            const question = questions[slot]!;
            const em = ems[i]!;
            exact += em;
            searches += trajectory.searches.length;
            refused += trajectory.searchesRefused;
            if (question.type !== undefined) {
              const byType = searchesByType.get(question.type) ?? { searches: 0, count: 0 };
              byType.searches += trajectory.searches.length;
              byType.count++;
              searchesByType.set(question.type, byType);
            }
            const costed = applySearchCost(config.searchCost, {
              reward: config.reward === 'em' ? em : formatReward(trajectory.text, question.golden_answers),
              searches: trajectory.searches.length,
              ...(minimalSearches.get(question.id) !== undefined
                ? { optimalSearches: minimalSearches.get(question.id)! }
                : {}),
            });
            costTerms += costed.costTerm;
            if (!trajectory.tokenExact || trajectory.responseTokenIds.length === 0) return;
            samples.push({
              promptId: `${question.id}@${step}.${slot}`, // GRPO's group: one slot's rollouts
              promptTokens: trajectory.promptTokenIds,
              responseTokens: trajectory.responseTokenIds,
              sampledMask: Array.from(trajectory.sampledMask),
              reward: costed.reward,
            });
          });
          const typeMetrics = Object.fromEntries(
            [...searchesByType].map(([type, { searches: n, count }]) => [
              `rollout/searches_per_question/${type}`,
              n / count,
            ]),
          );
          return {
            samples,
            metrics: {
              'rollout/exact_match': exact / trajectories.length,
              'rollout/searches_per_question': searches / trajectories.length,
              ...(config.rollout.maxSearches !== null
                ? { 'rollout/searches_refused_per_question': refused / trajectories.length }
                : {}),
              ...(config.searchCost.kind !== 'none'
                ? { 'reward/search_cost': costTerms / trajectories.length }
                : {}),
              ...typeMetrics,
              ...cacheMetrics,
              ...engineMetrics,
              'timing/rollout_s': rolloutSeconds,
              'perf/generated_tokens_per_s': (engine.generatedTokens() - tokensBefore) / rolloutSeconds,
              'perf/searches_per_s': searches / rolloutSeconds,
            },
          };
        },
        onStep: async (record) => {
          // The step's update is done: later rollouts and validation generate with the new weights.
          await engine.setPolicyVersion(record.step);
          metrics.write(record);
          progress?.update(record.step, {
            reward: record['reward/mean'],
            em: record['rollout/exact_match'] ?? 0,
            'search/q': record['rollout/searches_per_question'] ?? 0,
            'tok/s': record['perf/generated_tokens_per_s'] ?? 0,
          });
        },
        validate,
        validateEvery: config.validateEvery,
        onCheckpoint: async (saved) => {
          await saveCheckpoint(config.output.dir, {
            step: saved.step,
            trainerState: {
              epoch: saved.epoch,
              cursor: saved.cursor,
              rng: saved.rng,
              validations,
              ...(config.searchCost.kind === 'otc' ? { minimalSearches: minimalSearches.entries() } : {}),
            },
            optimizer: saved.actorOptimizer,
            writeModel: async (dir) => {
              await saveModelFolder(dir, { config: base.config, weights }, { tokenizerDir: config.policy });
              if (critic !== undefined && saved.criticOptimizer !== null) {
                await writeSafetensors(join(dir, 'critic.safetensors'), critic.weights);
                await writeOptimizerState(join(dir, 'critic-optimizer.safetensors'), saved.criticOptimizer);
              }
            },
          });
        },
        saveEvery: config.output.saveEvery,
      },
    );
    progress?.stop();
    const cacheLookups = cacheTotals.hits + cacheTotals.misses;
    return {
      steps: config.steps,
      validations,
      metricsFile: metrics.file,
      searchCache:
        retriever.cache === undefined
          ? null
          : {
              ...cacheTotals,
              hitRate: cacheLookups === 0 ? 0 : cacheTotals.hits / cacheLookups,
              savedSecondsEstimate:
                cacheTotals.misses === 0
                  ? 0
                  : (cacheTotals.hits * cacheTotals.searchSeconds) / cacheTotals.misses,
            },
    };
  } finally {
    // The worker thread would keep the process alive: everything is released on failure too.
    // The train worker before the engine: it may run in the engine worker's thread.
    try {
      await Promise.all([actor.dispose(), reference?.dispose(), critic?.dispose()]);
      await trainWorker?.close();
    } finally {
      await engine.dispose();
      await retriever.close();
    }
  }
}
