// One Search-R1 policy update from a batch of finished trajectories: old-policy, reference and
// critic passes, rewards (with the KL penalty for PPO), advantages (GAE, GRPO or RLOO), then PPO
// epochs over shuffled mini-batches for the actor (and the critic). The maths is @sr1/rl's; this
// module only moves arrays between the engine's layout and the RL layout.

import { InvalidInputError, type Rng } from '@sr1/core';
import type { AdamW } from '@sr1/optim';
import { clipGradNorm, GradientAccumulator } from '@sr1/optim';
import {
  type AdvantageEstimator,
  actorLoss,
  advantageEstimator,
  applyKlPenalty,
  clippedValueLoss,
  type KlEstimator,
  type LossAggregation,
  placeOutcomeReward,
} from '@sr1/rl';
import { TrainInvariantError } from './errors.js';
import type { TokenBatch, TrainablePolicy } from './policy.js';
import { buildRlBatch, gatherResponse, type RlBatch, type RlSample, scatterResponse } from './rl-batch.js';

export type { AdvantageEstimator } from '@sr1/rl';

export interface RlUpdateOptions {
  /** The advantage estimator's name in @sr1/rl's registry (`gae` needs `models.critic`). */
  advantage: AdvantageEstimator;
  /** Exclude inserted tokens (information, invalid-action text) from the actor loss. */
  maskRetrievedTokens: boolean; // true: the paper's method; false is its ablation
  ppoEpochs: number; // 1: the paper's setting
  /** Samples per optimiser step. */
  miniBatchSize: number;
  /** Samples per forward/backward call (memory bound). */
  microBatchSize: number;
  clipRatio: number; // 0.2: the paper's value
  entropyCoef: number; // 0.001: the paper's value
  /** 'reward': per-token k1 penalty before GAE (the paper's PPO); 'loss': KL term in the actor loss (GRPO). */
  klMode: 'reward' | 'loss' | 'none';
  klCoef: number; // 0.001: the paper's value for both modes
  klEstimator: KlEstimator;
  gamma: number; // 1: the paper's GAE
  lambda: number; // 1: the paper's GAE
  valueClip: number; // 0.5: veRL's cliprange_value
  grpoNormalizeByStd: boolean; // true: GRPO; false: Dr.GRPO
  aggregation: LossAggregation; // token-mean: veRL's default
  maxGradNorm: number; // 1.0: veRL's grad_clip
}

export interface RlModels {
  actor: TrainablePolicy;
  actorOptimizer: AdamW;
  actorLr: number;
  /** Frozen copy of the initial policy, for the KL term. */
  reference?: TrainablePolicy;
  critic?: TrainablePolicy;
  criticOptimizer?: AdamW;
  criticLr?: number;
}

export type RlMetrics = Record<string, number>;

/** Per-sample response-aligned arrays computed before any update. */
interface SampleStats {
  oldLogProbs: Float64Array;
  oldEntropies: Float64Array;
  refLogProbs?: Float64Array;
  values?: Float64Array;
  advantages: Float64Array;
  returns: Float64Array;
}

function rowsOf(batch: TokenBatch, start: number, end: number): TokenBatch {
  const T = batch.length;
  return {
    tokens: batch.tokens.subarray(start * T, end * T),
    attentionMask: batch.attentionMask.subarray(start * T, end * T),
    batchSize: end - start,
    length: T,
  };
}

/** Runs `policy.forward` over row chunks and concatenates the (batch, T) outputs. */
async function forwardInChunks(
  policy: TrainablePolicy,
  batch: TokenBatch,
  microBatchSize: number,
): Promise<{ logprobs: Float32Array; entropies: Float32Array; values?: Float32Array }> {
  const T = batch.length;
  const logprobs = new Float32Array(batch.batchSize * T);
  const entropies = new Float32Array(batch.batchSize * T);
  let values: Float32Array | undefined;
  for (let start = 0; start < batch.batchSize; start += microBatchSize) {
    const end = Math.min(batch.batchSize, start + microBatchSize);
    const out = await policy.forward(rowsOf(batch, start, end));
    logprobs.set(out.logprobs, start * T);
    entropies.set(out.entropies, start * T);
    if (out.values !== undefined) {
      values ??= new Float32Array(batch.batchSize * T);
      values.set(out.values, start * T);
    }
  }
  return { logprobs, entropies, ...(values !== undefined ? { values } : {}) };
}

function sliceRows(matrix: Float64Array, R: number, b: number, length: number): Float64Array {
  return matrix.slice(b * R, b * R + length);
}

/** Assembles per-sample arrays into a (batch, R) matrix for the given sample indices. */
function assemble(rows: readonly Float64Array[], R: number): Float64Array {
  const out = new Float64Array(rows.length * R);
  rows.forEach((row, b) => {
    out.set(row, b * R);
  });
  return out;
}

function accumulateMetrics(into: Map<string, number[]>, metrics: Record<string, number>): void {
  for (const [key, value] of Object.entries(metrics)) {
    if (!into.has(key)) into.set(key, []);
    into.get(key)!.push(value);
  }
}

/**
 * Computes advantages for `samples` and runs `options.ppoEpochs` epochs of mini-batch updates of
 * the actor (and critic). Returns metrics averaged over mini-batches, keyed like veRL's
 * (`actor/pg_loss`, `critic/vf_loss`, …).
 */
export async function rlUpdate(
  samples: readonly RlSample[],
  models: RlModels,
  options: RlUpdateOptions,
  rng: Rng,
): Promise<RlMetrics> {
  const estimator = advantageEstimator(options.advantage);
  if (estimator.needsCritic && models.critic === undefined) {
    throw new InvalidInputError({
      field: 'models.critic',
      reason: `${options.advantage.toUpperCase()} advantages need a critic (models.critic)`,
    });
  }
  const whole = buildRlBatch(samples);
  const R = whole.responseLength;
  // The tokens the actor is trained on: the sampled ones (the paper's method), or every real
  // token in the no-masking ablation.
  const actorMask = options.maskRetrievedTokens ? whole.sampledMask : whole.tokenMask;
  const matrix = (data: Float64Array) => ({ shape: [samples.length, R] as const, data });

  // Passes before any update: old policy, reference, critic.
  const old = await forwardInChunks(models.actor, whole.tokens, options.microBatchSize);
  const oldLogProbs = gatherResponse(whole, old.logprobs);
  const oldEntropies = gatherResponse(whole, old.entropies);
  let refLogProbs: Float64Array | undefined;
  if (models.reference !== undefined && options.klMode !== 'none') {
    refLogProbs = gatherResponse(
      whole,
      (await forwardInChunks(models.reference, whole.tokens, options.microBatchSize)).logprobs,
    );
  }
  let values: Float64Array | undefined;
  if (models.critic !== undefined) {
    const criticOut = await forwardInChunks(models.critic, whole.tokens, options.microBatchSize);
    if (criticOut.values === undefined) {
      throw new TrainInvariantError('the critic returned no values: its forward must fill `values`');
    }
    values = gatherResponse(whole, criticOut.values, -1);
  }

  // Rewards and advantages.
  const metrics = new Map<string, number[]>();
  const scores = Float64Array.from(samples, (s) => s.reward);
  let tokenLevelRewards = placeOutcomeReward(scores, matrix(whole.tokenMask)).data;
  if (options.klMode === 'reward' && refLogProbs !== undefined) {
    const penalised = applyKlPenalty({
      tokenLevelScores: matrix(tokenLevelRewards),
      logProbs: matrix(oldLogProbs),
      refLogProbs: matrix(refLogProbs),
      sampledMask: matrix(actorMask),
      klCoef: options.klCoef,
      estimator: options.klEstimator,
    });
    tokenLevelRewards = penalised.tokenLevelRewards.data;
    accumulateMetrics(metrics, penalised.metrics);
  }
  const estimated = estimator.compute({
    scores,
    tokenLevelRewards: matrix(tokenLevelRewards),
    ...(values !== undefined ? { values: matrix(values) } : {}),
    promptIds: samples.map((s) => s.promptId),
    tokenMask: matrix(whole.tokenMask),
    gamma: options.gamma,
    lambda: options.lambda,
    normalizeByStd: options.grpoNormalizeByStd,
  });
  const advantages = estimated.advantages.data;
  const returns = estimated.returns.data;
  accumulateMetrics(metrics, estimated.metrics);
  const stats: SampleStats[] = samples.map((sample, b) => {
    const n = sample.responseTokens.length;
    return {
      oldLogProbs: sliceRows(oldLogProbs, R, b, n),
      oldEntropies: sliceRows(oldEntropies, R, b, n),
      ...(refLogProbs !== undefined ? { refLogProbs: sliceRows(refLogProbs, R, b, n) } : {}),
      ...(values !== undefined ? { values: sliceRows(values, R, b, n) } : {}),
      advantages: sliceRows(advantages, R, b, n),
      returns: sliceRows(returns, R, b, n),
    };
  });

  // PPO epochs over shuffled mini-batches.
  const order = samples.map((_, i) => i);
  let updated = false;
  for (let epoch = 0; epoch < options.ppoEpochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let start = 0; start < order.length; start += options.miniBatchSize) {
      const indices = order.slice(start, start + options.miniBatchSize);
      const mini = buildRlBatch(indices.map((i) => samples[i]!));
      // Before the first optimiser step the policy is still the old policy: its log-probs and
      // entropies are the ones just computed, so the actor step skips its own forward pass.
      accumulateMetrics(
        metrics,
        await actorStep(
          mini,
          indices.map((i) => stats[i]!),
          models,
          options,
          !updated,
        ),
      );
      updated = true;
      if (models.critic !== undefined && estimator.needsCritic) {
        accumulateMetrics(
          metrics,
          await criticStep(
            mini,
            indices.map((i) => stats[i]!),
            models,
            options,
          ),
        );
      }
    }
  }
  const averaged: RlMetrics = {};
  for (const [key, list] of metrics) averaged[key] = list.reduce((a, b) => a + b, 0) / list.length;
  averaged['critic/score_mean'] = scores.reduce((a, b) => a + b, 0) / scores.length;
  averaged['response_length/mean'] =
    samples.reduce((a, s) => a + s.responseTokens.length, 0) / samples.length;
  return averaged;
}

async function actorStep(
  mini: RlBatch,
  stats: readonly SampleStats[],
  models: RlModels,
  options: RlUpdateOptions,
  policyUnchanged: boolean,
): Promise<RlMetrics> {
  const R = mini.responseLength;
  const B = mini.samples.length;
  let logProbs: Float64Array;
  let entropies: Float64Array;
  if (policyUnchanged) {
    logProbs = assemble(
      stats.map((s) => s.oldLogProbs),
      R,
    );
    entropies = assemble(
      stats.map((s) => s.oldEntropies),
      R,
    );
  } else {
    const current = await forwardInChunks(models.actor, mini.tokens, options.microBatchSize);
    logProbs = gatherResponse(mini, current.logprobs);
    entropies = gatherResponse(mini, current.entropies);
  }
  const matrix = (data: Float64Array) => ({ shape: [B, R] as const, data });
  const loss = actorLoss({
    logProbs: matrix(logProbs),
    oldLogProbs: matrix(
      assemble(
        stats.map((s) => s.oldLogProbs),
        R,
      ),
    ),
    advantages: matrix(
      assemble(
        stats.map((s) => s.advantages),
        R,
      ),
    ),
    sampledMask: matrix(options.maskRetrievedTokens ? mini.sampledMask : mini.tokenMask),
    clipRatio: options.clipRatio,
    entropies: matrix(entropies),
    entropyCoef: options.entropyCoef,
    aggregation: options.aggregation,
    ...(options.klMode === 'loss' && stats[0]?.refLogProbs !== undefined
      ? {
          refLogProbs: matrix(
            assemble(
              stats.map((s) => s.refLogProbs!),
              R,
            ),
          ),
          klLossCoef: options.klCoef,
          klEstimator: options.klEstimator,
        }
      : {}),
  });
  const upstreamLogprobs = scatterResponse(mini, loss.gradLogProbs.data);
  const upstreamEntropies = scatterResponse(mini, loss.gradEntropies.data);
  const grads = await backwardInChunks(models.actor, mini.tokens, options.microBatchSize, {
    logprobs: upstreamLogprobs,
    entropies: upstreamEntropies,
  });
  const clip = clipGradNorm(grads, options.maxGradNorm);
  const skipped = !clip.finite || !Number.isFinite(loss.loss);
  if (!skipped) models.actorOptimizer.step(models.actor.parameters, grads, models.actorLr);
  return { ...loss.metrics, 'actor/grad_norm': clip.totalNorm, 'actor/skipped': skipped ? 1 : 0 };
}

async function criticStep(
  mini: RlBatch,
  stats: readonly SampleStats[],
  models: RlModels,
  options: RlUpdateOptions,
): Promise<RlMetrics> {
  const critic = models.critic!;
  const R = mini.responseLength;
  const B = mini.samples.length;
  const current = await forwardInChunks(critic, mini.tokens, options.microBatchSize);
  const matrix = (data: Float64Array) => ({ shape: [B, R] as const, data });
  const loss = clippedValueLoss({
    values: matrix(gatherResponse(mini, current.values!, -1)),
    oldValues: matrix(
      assemble(
        stats.map((s) => s.values!),
        R,
      ),
    ),
    returns: matrix(
      assemble(
        stats.map((s) => s.returns),
        R,
      ),
    ),
    tokenMask: matrix(mini.tokenMask),
    clipRange: options.valueClip,
    aggregation: options.aggregation,
  });
  const grads = await backwardInChunks(critic, mini.tokens, options.microBatchSize, {
    values: scatterResponse(mini, loss.gradValues.data, -1),
  });
  const clip = clipGradNorm(grads, options.maxGradNorm);
  const skipped = !clip.finite || !Number.isFinite(loss.loss);
  if (!skipped) models.criticOptimizer!.step(critic.parameters, grads, models.criticLr!);
  return { ...loss.metrics, 'critic/grad_norm': clip.totalNorm };
}

async function backwardInChunks(
  policy: TrainablePolicy,
  batch: TokenBatch,
  microBatchSize: number,
  upstream: { logprobs?: Float32Array; entropies?: Float32Array; values?: Float32Array },
): Promise<Map<string, Float32Array>> {
  const T = batch.length;
  const accumulator = new GradientAccumulator();
  for (let start = 0; start < batch.batchSize; start += microBatchSize) {
    const end = Math.min(batch.batchSize, start + microBatchSize);
    const slice = (array: Float32Array | undefined) => array?.subarray(start * T, end * T);
    const part = {
      ...(upstream.logprobs !== undefined ? { logprobs: slice(upstream.logprobs)! } : {}),
      ...(upstream.entropies !== undefined ? { entropies: slice(upstream.entropies)! } : {}),
      ...(upstream.values !== undefined ? { values: slice(upstream.values)! } : {}),
    };
    accumulator.add(await policy.backward(rowsOf(batch, start, end), part));
  }
  return accumulator.gradients();
}
