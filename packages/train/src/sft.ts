// The supervised fine-tuning loop: shuffled batches of tokenised examples, token-mean cross-entropy
// under the loss mask, gradient accumulation over micro-batches, clipping, AdamW, and a state that
// resumes the exact same sequence of batches and updates.

import { join } from 'node:path';
import { createRng, InvalidInputError } from '@sr1/core';
import {
  AdamW,
  type AdamWOptions,
  type AdamWState,
  clipGradNorm,
  createSchedule,
  GradientAccumulator,
} from '@sr1/optim';
import { checkpointStateFields, type LoadedCheckpoint } from './checkpoint.js';
import { DEFAULT_MAX_NON_FINITE_STEPS, NonFiniteStepGuard } from './non-finite.js';
import { makeTokenBatch, type TrainablePolicy } from './policy.js';
import type { TokenizedExample } from './sft-data.js';

export interface SftOptions {
  steps: number;
  /** Examples per optimiser step (the logical batch). */
  batchSize: number;
  /** Examples per forward/backward call; batchSize must be a multiple of it. */
  microBatchSize: number;
  lr: number;
  schedule: 'constant' | 'linear-warmup' | 'cosine';
  warmupRatio: number;
  maxGradNorm: number;
  optimizer: Omit<AdamWOptions, 'lr'>;
  seed: number;
  /**
   * Non-finite steps in a row (skipped: loss or gradient norm not finite) after which the run
   * throws `NonFiniteStepsError` instead of skipping on. Default `DEFAULT_MAX_NON_FINITE_STEPS`.
   */
  maxNonFiniteSteps?: number;
}

/** Everything needed to continue a run exactly where it stopped. */
export interface SftState {
  /** Optimiser steps completed. */
  step: number;
  /** Epoch of the next batch and the position inside its shuffled order. */
  epoch: number;
  cursor: number;
  skippedSteps: number;
  optimizer: AdamWState | null;
}

export interface SftStepMetrics {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  /** Loss-bearing tokens in the step. */
  lossTokens: number;
  /** All tokens processed in the step (forward + backward). */
  tokens: number;
  tokensPerSecond: number;
  skipped: boolean;
  epoch: number;
}

export interface SftCallbacks {
  onStep?(metrics: SftStepMetrics): void | Promise<void>;
  /** Called after step `state.step` when it is a save point (every `saveEvery` steps, and the last). */
  onCheckpoint?(state: SftState): void | Promise<void>;
  saveEvery?: number;
}

export const INITIAL_SFT_STATE: SftState = { step: 0, epoch: 0, cursor: 0, skippedSteps: 0, optimizer: null };

/**
 * The SFT state saved in a checkpoint, validated (step, epoch, cursor, skippedSteps: integers ≥ 0,
 * step equal to the checkpoint's) — an InvalidInputError naming trainer-state.json otherwise.
 */
export function restoreSftState(checkpoint: LoadedCheckpoint): SftState {
  const saved = checkpointStateFields(checkpoint, ['step', 'epoch', 'cursor', 'skippedSteps']);
  if (saved.step !== checkpoint.step) {
    throw new InvalidInputError({
      code: 'checkpoint',
      file: join(checkpoint.dir, 'trainer-state.json'),
      field: 'state.step',
      reason: `expected the checkpoint's step ${checkpoint.step}, got ${saved.step}`,
    });
  }
  return {
    step: saved.step,
    epoch: saved.epoch,
    cursor: saved.cursor,
    skippedSteps: saved.skippedSteps,
    optimizer: checkpoint.optimizer,
  };
}

/** The example order of an epoch: a seeded Fisher–Yates shuffle. */
export function epochOrder(count: number, seed: number, epoch: number): number[] {
  const rng = createRng(seed * 1_000_003 + epoch);
  const order = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Runs SFT from `state` to `options.steps`, returning the final state. */
export async function trainSft(
  policy: TrainablePolicy,
  examples: readonly TokenizedExample[],
  options: SftOptions,
  state: SftState = INITIAL_SFT_STATE,
  callbacks: SftCallbacks = {},
): Promise<SftState> {
  if (examples.length === 0) {
    throw new InvalidInputError({ field: 'examples', reason: 'SFT needs at least one example' });
  }
  if (options.batchSize % options.microBatchSize !== 0) {
    throw new InvalidInputError({
      field: 'batchSize',
      reason: `batchSize ${options.batchSize} is not a multiple of microBatchSize ${options.microBatchSize}`,
    });
  }
  const optimizer = new AdamW({ ...options.optimizer, lr: options.lr });
  if (state.optimizer !== null) optimizer.loadState(state.optimizer);
  const schedule = createSchedule(options.schedule, {
    lr: options.lr,
    totalSteps: options.steps,
    warmupRatio: options.warmupRatio,
  });
  const accumulator = new GradientAccumulator();
  const guard = new NonFiniteStepGuard(
    options.maxNonFiniteSteps ?? DEFAULT_MAX_NON_FINITE_STEPS,
    `lower the learning rate (${options.lr}) or check the data`,
  );
  let { epoch, cursor, skippedSteps } = state;
  let order = epochOrder(examples.length, options.seed, epoch);
  const nextExample = (): TokenizedExample => {
    if (cursor >= order.length) {
      epoch++;
      cursor = 0;
      order = epochOrder(examples.length, options.seed, epoch);
    }
    return examples[order[cursor++]!]!;
  };

  for (let step = state.step; step < options.steps; step++) {
    const started = performance.now();
    const stepEpoch = epoch;
    const batch = Array.from({ length: options.batchSize }, nextExample);
    // Position 0 has no prediction, so its mask never counts.
    const lossTokens = batch.reduce(
      (sum, example) => sum + example.lossMask.slice(1).reduce((a, b) => a + b, 0),
      0,
    );
    accumulator.reset();
    let lossSum = 0;
    let tokens = 0;
    for (let start = 0; start < batch.length; start += options.microBatchSize) {
      const micro = batch.slice(start, start + options.microBatchSize);
      const tokenBatch = makeTokenBatch(micro.map((example) => example.tokens));
      const { length: T } = tokenBatch;
      // SFT's upstream gradient (−mask / loss tokens) does not depend on the forward pass.
      const upstream = new Float32Array(micro.length * T);
      micro.forEach((example, row) => {
        for (let t = 1; t < example.tokens.length; t++) {
          if (example.lossMask[t] === 1) upstream[row * T + t] = -1 / Math.max(1, lossTokens);
        }
        tokens += example.tokens.length;
      });
      let logprobs: Float32Array;
      if (policy.forwardBackward !== undefined) {
        const result = await policy.forwardBackward(tokenBatch, { logprobs: upstream });
        logprobs = result.forward.logprobs;
        accumulator.add(result.grads);
      } else {
        logprobs = (await policy.forward(tokenBatch)).logprobs;
        accumulator.add(await policy.backward(tokenBatch, { logprobs: upstream }));
      }
      micro.forEach((example, row) => {
        for (let t = 1; t < example.tokens.length; t++) {
          if (example.lossMask[t] === 1) lossSum -= logprobs[row * T + t]!;
        }
      });
    }
    const loss = lossSum / Math.max(1, lossTokens);
    const lr = schedule(step);
    const clip = clipGradNorm(accumulator.gradients(), options.maxGradNorm);
    const skipped = !Number.isFinite(loss) || !clip.finite;
    if (skipped) skippedSteps++;
    else optimizer.step(policy.parameters, accumulator.gradients(), lr);
    const seconds = (performance.now() - started) / 1000;
    await callbacks.onStep?.({
      step: step + 1,
      loss,
      lr,
      gradNorm: clip.totalNorm,
      lossTokens,
      tokens,
      tokensPerSecond: tokens / Math.max(seconds, 1e-9),
      skipped,
      epoch: stepEpoch,
    });
    guard.record(step + 1, skipped);
    const saveEvery = callbacks.saveEvery ?? 0;
    if (
      callbacks.onCheckpoint !== undefined &&
      ((saveEvery > 0 && (step + 1) % saveEvery === 0) || step + 1 === options.steps)
    ) {
      await callbacks.onCheckpoint({
        step: step + 1,
        epoch,
        cursor,
        skippedSteps,
        optimizer: optimizer.state(),
      });
    }
  }
  return { step: options.steps, epoch, cursor, skippedSteps, optimizer: optimizer.state() };
}
