// `sr1-train rl`: Search-R1 RL end to end. Per step: sample prompts → n rollouts each through the
// engine and the retriever → rewards → old/reference log-probs → advantages → PPO-style epochs →
// metrics; greedy validation every N steps; atomic checkpoints; exact resume after kill -9.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng, InvalidInputError, Xoshiro128 } from '@sr1/core';
import {
  cloneWeights,
  loadModelFolder,
  loadTokenizer,
  OrtCritic,
  OrtDecoderRunner,
  OrtTrainablePolicy,
  readSafetensors,
  saveModelFolder,
  writeSafetensors,
} from '@sr1/model';
import { AdamW, type AdamWState, createSchedule, isNormOrBias } from '@sr1/optim';
import { InProcessRetriever } from '@sr1/retriever';
import { exactMatch, formatReward } from '@sr1/reward';
import { encodePrompt, runRollout } from '@sr1/rollout';
import {
  checkpointStateFields,
  checkRunDir,
  clearRunHistory,
  epochOrder,
  inReferenceOrder,
  type LoadedCheckpoint,
  loadLatestCheckpoint,
  MetricsWriter,
  NonFiniteStepGuard,
  Progress,
  type RlSample,
  rlUpdate,
  saveCheckpoint,
} from '@sr1/train';
import { type EvalSummary, evaluate, summarize } from './agent-eval.js';
import { engineGenerator } from './engine-generator.js';
import { promptOptions } from './prompt-options.js';
import { readQuestions } from './questions.js';
import { RUN_FILES, writeTrajectories } from './report.js';
import type { RlConfig } from './rl-config.js';

export interface RlRunResult {
  steps: number;
  validations: { step: number; summary: EvalSummary }[];
  metricsFile: string;
}

interface TrainerState {
  epoch: number;
  cursor: number;
  rng: ReturnType<Xoshiro128['state']>;
  validations: { step: number; summary: EvalSummary }[];
}

/** The RL loop's state saved in a checkpoint, validated before anything in the run folder changes. */
function restoreTrainerState(checkpoint: LoadedCheckpoint): TrainerState {
  const saved = checkpointStateFields(checkpoint, ['epoch', 'cursor']);
  const file = join(checkpoint.dir, 'trainer-state.json');
  const rng = saved.rng as { s?: unknown; spare?: unknown } | undefined;
  if (
    typeof rng !== 'object' ||
    rng === null ||
    !Array.isArray(rng.s) ||
    rng.s.length !== 4 ||
    !rng.s.every((word) => Number.isInteger(word) && word >= 0 && word < 2 ** 32) ||
    !(rng.spare === null || typeof rng.spare === 'number')
  ) {
    throw new InvalidInputError({
      code: 'checkpoint',
      file,
      field: 'state.rng',
      reason: 'expected {"s": [four uint32], "spare": number | null}',
    });
  }
  if (!Array.isArray(saved.validations)) {
    throw new InvalidInputError({
      code: 'checkpoint',
      file,
      field: 'state.validations',
      reason: 'expected an array',
    });
  }
  return saved as unknown as TrainerState;
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
  };
  const checkpoint = options.resume ? await loadLatestCheckpoint(config.output.dir) : null;
  const saved = checkpoint === null ? undefined : restoreTrainerState(checkpoint);
  // The base model's tensor order, not the checkpoint file's (sorted): see inReferenceOrder.
  const weights =
    checkpoint === null
      ? base.weights
      : inReferenceOrder(
          (await loadModelFolder(checkpoint.dir)).weights,
          base.weights,
          join(checkpoint.dir, 'model.safetensors'),
        );
  const actor = await OrtTrainablePolicy.create(base.config, weights, engineOptions);
  // The reference is frozen: its own copy of the base weights, which the actor (and the runner,
  // which shares the actor's buffers) update in place when training starts from the base.
  const reference =
    config.klCoef > 0
      ? await OrtTrainablePolicy.create(base.config, cloneWeights(base.weights), engineOptions)
      : undefined;
  const runner = await OrtDecoderRunner.create(base.config, weights, engineOptions);
  const { generator, generatedTokens } = engineGenerator(runner, tokenizer);
  const retriever = await InProcessRetriever.open(config.index);
  const train = await readQuestions(config.data.train);
  const validation = (await readQuestions(config.data.validation)).slice(0, config.data.validationLimit);

  const optimizer = new AdamW({ lr: config.actorLr, weightDecay: 0.01, noDecay: isNormOrBias }); // veRL's actor weight decay 0.01
  if (checkpoint?.optimizer != null) optimizer.loadState(checkpoint.optimizer);
  // PPO's critic: the policy's trunk with a fresh value head (as veRL), its own AdamW and warm-up.
  const critic =
    config.algorithm === 'ppo'
      ? await OrtCritic.fromPolicy(base.config, base.weights, createRng(config.seed + 17), engineOptions)
      : undefined;
  const criticOptimizer = new AdamW({ lr: config.criticLr, weightDecay: 0.01, noDecay: isNormOrBias });
  const criticSchedule = createSchedule('linear-warmup', {
    lr: config.criticLr,
    totalSteps: config.steps,
    warmupRatio: 0.015,
  }); // the paper's critic warm-up
  if (critic !== undefined && checkpoint !== null) {
    const { tensors } = await readSafetensors(join(checkpoint.dir, 'critic.safetensors'));
    for (const [name, tensor] of tensors) critic.parameters.get(name)?.set(tensor.data);
    const saved = await readSafetensors(join(checkpoint.dir, 'critic-optimizer.safetensors'));
    const moments = saved.tensors;
    const state: AdamWState = {
      step: Number(saved.header.metadata.step),
      firstMoment: new Map(),
      secondMoment: new Map(),
    };
    for (const [key, tensor] of moments) {
      if (key.startsWith('exp_avg_sq.')) state.secondMoment.set(key.slice(11), tensor.data);
      else if (key.startsWith('exp_avg.')) state.firstMoment.set(key.slice(8), tensor.data);
    }
    criticOptimizer.loadState(state);
  }
  const schedule = createSchedule('linear-warmup', {
    lr: config.actorLr,
    totalSteps: config.steps,
    warmupRatio: config.warmupRatio,
  });
  const rng = saved !== undefined ? Xoshiro128.restore(saved.rng) : createRng(config.seed);
  let epoch = saved?.epoch ?? 0;
  let cursor = saved?.cursor ?? 0;
  let order = epochOrder(train.length, config.seed, epoch);
  const validations = saved?.validations ?? [];
  const startStep = checkpoint?.step ?? 0;
  if (options.force === true && !options.resume) await clearRunHistory(config.output.dir);
  await mkdir(config.output.dir, { recursive: true });
  await writeFile(join(config.output.dir, 'config.resolved.json'), `${JSON.stringify(config, null, 2)}\n`);
  const metrics = new MetricsWriter(join(config.output.dir, 'metrics.jsonl'));
  metrics.truncateAfter(options.resume ? startStep : -1);
  const nonFinite = new NonFiniteStepGuard(
    config.maxNonFiniteSteps,
    `lower actorLr (${config.actorLr}) or check the policy`,
  );
  const rolloutConfig = {
    maxTurns: config.rollout.maxTurns,
    maxTokensPerTurn: config.rollout.maxTokensPerTurn,
    maxObsTokens: config.rollout.maxObsTokens,
    topk: config.rollout.topk,
  };
  const prompt = promptOptions(config.prompt);
  const validate = async (step: number) => {
    const records = await evaluate('agent', validation, {
      generator,
      retriever,
      tokenizer,
      rollout: rolloutConfig,
      prompt,
    });
    const summary = summarize('agent', records);
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
    return summary;
  };
  if (startStep === 0) await validate(0);

  const progress = options.quiet === true ? null : new Progress(config.steps, 'rl');
  progress?.start(startStep);
  for (let step = startStep; step < config.steps; step++) {
    const started = performance.now();
    const questions = Array.from({ length: config.promptsPerStep }, () => {
      if (cursor >= order.length) {
        epoch++;
        cursor = 0;
        order = epochOrder(train.length, config.seed, epoch);
      }
      return train[order[cursor++]!]!;
    });
    // Ids carry the slot in the step: at an epoch boundary one question can fill two slots.
    const prompts = questions.flatMap((question, slot) => {
      const promptTokenIds = encodePrompt(question.question, tokenizer, prompt);
      return Array.from({ length: config.rolloutsPerPrompt }, (_, k) => ({
        id: `${question.id}#${step}.${slot}.${k}`,
        promptTokenIds,
      }));
    });
    const tokensBefore = generatedTokens();
    const trajectories = await runRollout(prompts, {
      generator,
      retriever,
      tokenizer,
      config: {
        ...rolloutConfig,
        temperature: config.rollout.temperature,
        seed: config.seed * 1_000_003 + step * 101,
      },
    });
    const rolloutSeconds = (performance.now() - started) / 1000;
    const samples: RlSample[] = [];
    let exact = 0;
    let searches = 0;
    trajectories.forEach((trajectory, i) => {
      const slot = Math.floor(i / config.rolloutsPerPrompt);
      const question = questions[slot]!;
      // EM of the answer the policy generated (the invalid-action text contains an <answer> tag too).
      const em = trajectory.answer === null ? 0 : exactMatch(trajectory.answer, question.golden_answers);
      exact += em;
      searches += trajectory.searches.length;
      if (!trajectory.tokenExact || trajectory.responseTokenIds.length === 0) return;
      samples.push({
        promptId: `${question.id}@${step}.${slot}`, // GRPO's group: one slot's rollouts
        promptTokens: trajectory.promptTokenIds,
        responseTokens: trajectory.responseTokenIds,
        policyMask: Array.from(trajectory.responseMask),
        reward: config.reward === 'em' ? em : formatReward(trajectory.text, question.golden_answers),
      });
    });
    const lr = schedule(step);
    const updateStarted = performance.now();
    const update = await rlUpdate(
      samples,
      {
        actor,
        actorOptimizer: optimizer,
        actorLr: lr,
        ...(reference !== undefined ? { reference } : {}),
        ...(critic !== undefined ? { critic, criticOptimizer, criticLr: criticSchedule(step) } : {}),
      },
      {
        advantage: config.algorithm === 'ppo' ? 'gae' : 'grpo',
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
        grpoNormalizeByStd: true,
        aggregation: 'token-mean',
        maxGradNorm: 1,
      },
      rng,
    );
    const seconds = (performance.now() - started) / 1000;
    const record = {
      step: step + 1,
      lr,
      'reward/mean': samples.reduce((a, s) => a + s.reward, 0) / Math.max(1, samples.length),
      'rollout/exact_match': exact / trajectories.length,
      'rollout/searches_per_question': searches / trajectories.length,
      'timing/rollout_s': rolloutSeconds,
      'timing/update_s': (performance.now() - updateStarted) / 1000,
      'timing/step_s': seconds,
      'perf/generated_tokens_per_s': (generatedTokens() - tokensBefore) / rolloutSeconds,
      'perf/searches_per_s': searches / rolloutSeconds,
      ...update,
    };
    metrics.write(record);
    nonFinite.record(step + 1, update['actor/skipped'] === 1);
    if ((step + 1) % config.validateEvery === 0 || step + 1 === config.steps) await validate(step + 1);
    progress?.update(step + 1, {
      reward: record['reward/mean'],
      em: record['rollout/exact_match'],
      'search/q': record['rollout/searches_per_question'],
      'tok/s': record['perf/generated_tokens_per_s'],
    });
    if ((step + 1) % config.output.saveEvery === 0 || step + 1 === config.steps) {
      const state: TrainerState = { epoch, cursor, rng: rng.state(), validations };
      await saveCheckpoint(config.output.dir, {
        step: step + 1,
        trainerState: state,
        optimizer: optimizer.state(),
        writeModel: async (dir) => {
          await saveModelFolder(dir, { config: base.config, weights }, { tokenizerDir: config.policy });
          if (critic !== undefined) {
            await writeSafetensors(join(dir, 'critic.safetensors'), critic.weights);
            const moments = new Map<string, { shape: number[]; data: Float32Array }>();
            const state = criticOptimizer.state();
            for (const [key, m] of state.firstMoment)
              moments.set(`exp_avg.${key}`, { shape: [m.length], data: m });
            for (const [key, v] of state.secondMoment)
              moments.set(`exp_avg_sq.${key}`, { shape: [v.length], data: v });
            await writeSafetensors(join(dir, 'critic-optimizer.safetensors'), moments, {
              metadata: { step: String(state.step) },
            });
          }
        },
      });
    }
  }
  progress?.stop();
  await Promise.all([actor.dispose(), reference?.dispose(), critic?.dispose(), runner.dispose()]);
  return { steps: config.steps, validations, metricsFile: metrics.file };
}
