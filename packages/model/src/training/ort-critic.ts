// The PPO critic on onnxruntime-node: the decoder trunk with HF's scalar value head
// (`score.weight` (1, hidden), `score.bias` (1)) in place of lm_head. `values[b, t]` is the value of
// the state after tokens[b, ≤t]; `backward` takes dLoss/dValue per token.

import type { Rng } from '@sr1/core';
import type { HostValue } from '@sr1/graph';
import type { TokenBatch, TrainablePolicy, Upstream } from '@sr1/spec';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { cloneWeights } from '../formats/weights.js';
import { DECODER_NAMES } from '../graphs/decoder-graph.js';
import { checkTokenBatch, type TrainLedger, TrainSessions, weightFeeds } from './train-sessions.js';
import type { OrtPolicyOptions } from './types.js';

const N = DECODER_NAMES;

export class OrtCritic implements TrainablePolicy {
  readonly parameters: Map<string, Float32Array>;
  private readonly sessions: TrainSessions<'forward' | 'grad'>;

  private constructor(
    readonly config: DecoderConfig,
    readonly weights: WeightMap,
    options: OrtPolicyOptions,
  ) {
    this.parameters = new Map([...weights].map(([name, tensor]) => [name, tensor.data]));
    this.sessions = new TrainSessions(config, options, (kind) => ({
      mode: 'train',
      head: 'value',
      objective: kind === 'forward' ? 'none' : 'upstream',
    }));
  }

  /**
   * A critic initialised from a policy's weights (copied; lm_head dropped) with a fresh value head:
   * `score.weight` ~ N(0, std²), `score.bias` = 0 — as veRL builds its critic from the actor's checkpoint.
   */
  static async fromPolicy(
    config: DecoderConfig,
    policyWeights: WeightMap,
    rng: Rng,
    options: OrtPolicyOptions = {},
    std = 0.02,
  ): Promise<OrtCritic> {
    return OrtCritic.create(config, OrtCritic.initialWeights(config, policyWeights, rng, std), options);
  }

  /** A critic on `weights` as they are (the trunk and `score.*`; no lm_head), e.g. a checkpoint's. */
  static async create(
    config: DecoderConfig,
    weights: WeightMap,
    options: OrtPolicyOptions = {},
  ): Promise<OrtCritic> {
    const critic = new OrtCritic(config, weights, options);
    await critic.sessions.get('forward');
    return critic;
  }

  /** `fromPolicy`'s weights: the policy's (copied; lm_head dropped) with a fresh value head. */
  static initialWeights(config: DecoderConfig, policyWeights: WeightMap, rng: Rng, std = 0.02): WeightMap {
    const weights = cloneWeights(policyWeights, new Set(['lm_head.weight']));
    const score = new Float32Array(config.hiddenSize);
    for (let i = 0; i < score.length; i++) score[i] = rng.normal() * std;
    weights.set('score.weight', { shape: [1, config.hiddenSize], data: score });
    weights.set('score.bias', { shape: [1], data: new Float32Array(1) });
    return weights;
  }

  private feeds(batch: TokenBatch, upstream?: Upstream): Record<string, HostValue> {
    checkTokenBatch(batch, this.config.vocabSize, upstream);
    const { batchSize: B, length: T } = batch;
    const ids = new BigInt64Array(B * T);
    const mask = new BigInt64Array(B * T);
    const positions = new BigInt64Array(B * T);
    for (let i = 0; i < B * T; i++) {
      ids[i] = BigInt(batch.tokens[i]!);
      mask[i] = BigInt(batch.attentionMask[i]!);
      positions[i] = BigInt(i % T);
    }
    const feeds: Record<string, HostValue> = {
      [N.inputIds]: { dtype: 'int64', shape: [B, T], data: ids },
      [N.attentionMask]: { dtype: 'int64', shape: [B, T], data: mask },
      [N.positionIds]: { dtype: 'int64', shape: [B, T], data: positions },
    };
    return weightFeeds(this.weights, feeds);
  }

  /** Values (batch, T); log-probs and entropies are zero (a critic has no language head). */
  async forward(
    batch: TokenBatch,
  ): Promise<{ logprobs: Float32Array; entropies: Float32Array; values: Float32Array }> {
    const n = batch.batchSize * batch.length;
    const out = await (await this.sessions.get('forward')).run(this.feeds(batch), [N.values]);
    return {
      logprobs: new Float32Array(n),
      entropies: new Float32Array(n),
      values: out[N.values]!.data as Float32Array,
    };
  }

  /** ∂/∂W of Σ upstream.values·values for every critic weight. */
  async backward(batch: TokenBatch, upstream: { values?: Float32Array }): Promise<Map<string, Float32Array>> {
    const { batchSize: B, length: T } = batch;
    const feeds = this.feeds(batch, upstream);
    feeds[N.gradValues] = {
      dtype: 'float32',
      shape: [B, T],
      data: upstream.values ?? new Float32Array(B * T),
    };
    const names = [...this.parameters.keys()];
    const out = await (await this.sessions.get('grad')).run(
      feeds,
      names.map((name) => N.gradient(name)),
    );
    return new Map(names.map((name) => [name, out[N.gradient(name)]!.data as Float32Array]));
  }

  /** Host↔device bytes of this critic's runs (what a GPU run would copy), summed over its sessions. */
  get ledger(): TrainLedger {
    return this.sessions.ledger;
  }

  /** Zeroes the ledger. */
  resetLedger(): void {
    this.sessions.resetLedger();
  }

  async dispose(): Promise<void> {
    await this.sessions.dispose();
  }
}
