// The RL loop, beside the SFT loop and in its callback style: per step it draws prompts in a seeded
// order that reshuffles every epoch, has the caller roll them out and score them (`collect`), runs
// one `rlUpdate` of the actor (and critic) at the scheduled learning rates, and reports metrics,
// validation and save points through callbacks. Its state resumes the exact same run.

import { join } from 'node:path';
import { createRng, InvalidInputError, type RngState, Xoshiro128 } from '@sr1/core';
import { AdamW, type AdamWOptions, type AdamWState, createSchedule } from '@sr1/optim';
import { checkpointStateFields, type LoadedCheckpoint } from './checkpoint.js';
import { DEFAULT_MAX_NON_FINITE_STEPS, NonFiniteStepGuard } from './non-finite.js';
import type { TrainablePolicy } from './policy.js';
import type { RlSample } from './rl-batch.js';
import { type RlMetrics, type RlUpdateOptions, rlUpdate } from './rl-update.js';
import { epochOrder } from './sft.js';

export interface RlOptions {
  steps: number;
  /** Prompts drawn per step; the caller rolls each out as often as it likes. */
  promptsPerStep: number;
  /** Peak actor learning rate of the linear warm-up schedule. */
  actorLr: number;
  warmupRatio: number;
  /** Peak critic learning rate of its own linear warm-up schedule. */
  criticLr: number;
  criticWarmupRatio: number;
  /** AdamW settings (all but lr) of both the actor and the critic. */
  optimizer: Omit<AdamWOptions, 'lr'>;
  update: RlUpdateOptions;
  /** Seeds the prompt order and, in a fresh run, the update's mini-batch shuffling. */
  seed: number;
  /**
   * Skipped (non-finite) actor updates in a row after which the run throws `NonFiniteStepsError`.
   * Default `DEFAULT_MAX_NON_FINITE_STEPS`.
   */
  maxNonFiniteSteps?: number;
}

/** Everything needed to continue a run exactly where it stopped. */
export interface RlState {
  /** Steps completed. */
  step: number;
  /** Epoch of the next prompt and the position inside its shuffled order. */
  epoch: number;
  cursor: number;
  /** The update's shuffling RNG; null = a fresh one seeded by `options.seed`. */
  rng: RngState | null;
  actorOptimizer: AdamWState | null;
  criticOptimizer: AdamWState | null;
}

export const INITIAL_RL_STATE: RlState = {
  step: 0,
  epoch: 0,
  cursor: 0,
  rng: null,
  actorOptimizer: null,
  criticOptimizer: null,
};

/** The models one RL run trains (actor, critic) or reads (reference). */
export interface RlLoopModels {
  actor: TrainablePolicy;
  /** Frozen copy of the initial policy, for the KL term. */
  reference?: TrainablePolicy;
  /** Needed by advantage estimators with `needsCritic` (GAE). */
  critic?: TrainablePolicy;
}

/** What the caller's rollout of one step's prompts produced. */
export interface RlCollected {
  samples: RlSample[];
  /** Rollout metrics (`rollout/…`, `timing/rollout_s`, `perf/…`), merged into the step's. */
  metrics: Record<string, number>;
}

export interface RlStepMetrics extends RlMetrics {
  /** 1-based: the step just completed. */
  step: number;
  lr: number;
  'reward/mean': number;
  'timing/update_s': number;
  'timing/step_s': number;
}

export interface RlCallbacks<P> {
  /** Rolls out and scores `prompts` for step `step` (0-based). */
  collect(prompts: readonly P[], step: number): Promise<RlCollected>;
  onStep?(metrics: RlStepMetrics): void | Promise<void>;
  /** Called at step 0 of a fresh run, every `validateEvery` steps and after the last. */
  validate?(step: number): void | Promise<void>;
  validateEvery?: number;
  /** Called after step `state.step` when it is a save point (every `saveEvery` steps, and the last). */
  onCheckpoint?(state: RlState): void | Promise<void>;
  saveEvery?: number;
}

/**
 * The RL state saved in a checkpoint (epoch, cursor: integers ≥ 0; rng: xoshiro128** state),
 * validated — an InvalidInputError naming trainer-state.json otherwise — with the actor's
 * optimiser state. The critic's optimiser state lives in a file of the caller's (see
 * `readOptimizerState`), so it is null here.
 */
export function restoreRlState(checkpoint: LoadedCheckpoint): RlState {
  const saved = checkpointStateFields(checkpoint, ['epoch', 'cursor']);
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
      file: join(checkpoint.dir, 'trainer-state.json'),
      field: 'state.rng',
      reason: 'expected {"s": [four uint32], "spare": number | null}',
    });
  }
  return {
    step: checkpoint.step,
    epoch: saved.epoch,
    cursor: saved.cursor,
    rng: rng as RngState,
    actorOptimizer: checkpoint.optimizer,
    criticOptimizer: null,
  };
}

/** Runs RL from `state` to `options.steps` over `prompts`, returning the final state. */
export async function trainRl<P>(
  models: RlLoopModels,
  prompts: readonly P[],
  options: RlOptions,
  state: RlState = INITIAL_RL_STATE,
  callbacks: RlCallbacks<P>,
): Promise<RlState> {
  if (prompts.length === 0) {
    throw new InvalidInputError({ field: 'prompts', reason: 'RL needs at least one prompt' });
  }
  const actorOptimizer = new AdamW({ ...options.optimizer, lr: options.actorLr });
  if (state.actorOptimizer !== null) actorOptimizer.loadState(state.actorOptimizer);
  const criticOptimizer = new AdamW({ ...options.optimizer, lr: options.criticLr });
  if (models.critic !== undefined && state.criticOptimizer !== null)
    criticOptimizer.loadState(state.criticOptimizer);
  const schedule = createSchedule('linear-warmup', {
    lr: options.actorLr,
    totalSteps: options.steps,
    warmupRatio: options.warmupRatio,
  });
  const criticSchedule = createSchedule('linear-warmup', {
    lr: options.criticLr,
    totalSteps: options.steps,
    warmupRatio: options.criticWarmupRatio,
  });
  const rng = state.rng !== null ? Xoshiro128.restore(state.rng) : createRng(options.seed);
  let epoch = state.epoch;
  let cursor = state.cursor;
  let order = epochOrder(prompts.length, options.seed, epoch);
  const nonFinite = new NonFiniteStepGuard(
    options.maxNonFiniteSteps ?? DEFAULT_MAX_NON_FINITE_STEPS,
    `lower actorLr (${options.actorLr}) or check the policy`,
  );
  const validateEvery = callbacks.validateEvery ?? Number.POSITIVE_INFINITY;
  const saveEvery = callbacks.saveEvery ?? Number.POSITIVE_INFINITY;
  const snapshot = (step: number): RlState => ({
    step,
    epoch,
    cursor,
    rng: rng.state(),
    actorOptimizer: actorOptimizer.state(),
    criticOptimizer: models.critic !== undefined ? criticOptimizer.state() : null,
  });
  if (state.step === 0) await callbacks.validate?.(0);

  for (let step = state.step; step < options.steps; step++) {
    const started = performance.now();
    const drawn = Array.from({ length: options.promptsPerStep }, () => {
      if (cursor >= order.length) {
        epoch++;
        cursor = 0;
        order = epochOrder(prompts.length, options.seed, epoch);
      }
      return prompts[order[cursor++]!]!;
    });
    const collected = await callbacks.collect(drawn, step);
    const { samples } = collected;
    const lr = schedule(step);
    const updateStarted = performance.now();
    const update = await rlUpdate(
      samples,
      {
        actor: models.actor,
        actorOptimizer,
        actorLr: lr,
        ...(models.reference !== undefined ? { reference: models.reference } : {}),
        ...(models.critic !== undefined
          ? { critic: models.critic, criticOptimizer, criticLr: criticSchedule(step) }
          : {}),
      },
      options.update,
      rng,
    );
    const finished = performance.now();
    const metrics: RlStepMetrics = {
      step: step + 1,
      lr,
      'reward/mean': samples.reduce((a, s) => a + s.reward, 0) / Math.max(1, samples.length),
      ...collected.metrics,
      'timing/update_s': (finished - updateStarted) / 1000,
      'timing/step_s': (finished - started) / 1000,
      ...update,
    };
    await callbacks.onStep?.(metrics);
    nonFinite.record(step + 1, update['actor/skipped'] === 1);
    if ((step + 1) % validateEvery === 0 || step + 1 === options.steps) await callbacks.validate?.(step + 1);
    if ((step + 1) % saveEvery === 0 || step + 1 === options.steps) {
      await callbacks.onCheckpoint?.(snapshot(step + 1));
    }
  }
  return snapshot(Math.max(state.step, options.steps));
}
