// The decoder as a trainable policy on onnxruntime-node: a forward session (per-token log-probs and
// entropies of a right-padded batch) and a gradient session that takes per-token upstream gradients
// (dLoss/dLogprob, dLoss/dEntropy) and returns the gradient of every weight. The loss itself —
// SFT cross-entropy, PPO, GRPO — is computed in TypeScript between the two runs.

import type { HostValue } from '@sr1/graph';
import type { TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from '@sr1/spec';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { WeightShapeError } from '../errors.js';
import { cloneWeights, expectedWeights } from '../formats/weights.js';
import { DECODER_NAMES } from '../graphs/decoder-graph.js';
import { checkTokenBatch, type TrainLedger, TrainSessions, weightFeeds } from './train-sessions.js';
import type { OrtPolicyOptions } from './types.js';

const N = DECODER_NAMES;

/**
 * Implements @sr1/spec's `TrainablePolicy` (what @sr1/train's loops take): `parameters` are the live float32 weight buffers
 * (shared with `weights`, so an optimiser step is seen by every session and by a generation
 * runner built on the same map).
 */
export class OrtTrainablePolicy implements TrainablePolicy {
  readonly parameters: TensorBuffers;
  private readonly sessions: TrainSessions<'forward' | 'grad' | 'grad-entropy'>;

  private constructor(
    readonly config: DecoderConfig,
    readonly weights: WeightMap,
    private readonly options: OrtPolicyOptions,
  ) {
    this.parameters = new Map([...weights].map(([name, tensor]) => [name, tensor.data]));
    this.sessions = new TrainSessions(config, options, (kind) => ({
      mode: 'train',
      objective: kind === 'forward' ? 'none' : 'upstream',
      entropyGradient: kind === 'grad-entropy',
    }));
  }

  /** Compiles the forward session eagerly (so a missing device fails here). */
  static async create(
    config: DecoderConfig,
    weights: WeightMap,
    options: OrtPolicyOptions = {},
  ): Promise<OrtTrainablePolicy> {
    for (const name of expectedWeights(config).keys()) {
      if (!weights.has(name))
        throw new WeightShapeError(
          undefined,
          name,
          'missing (OrtTrainablePolicy needs every weight of the config)',
        );
    }
    const policy = new OrtTrainablePolicy(config, weights, options);
    await policy.sessions.get('forward');
    return policy;
  }

  /** A frozen copy (its own buffers), e.g. the reference policy for the KL term. */
  async copy(): Promise<OrtTrainablePolicy> {
    return OrtTrainablePolicy.create(this.config, cloneWeights(this.weights), this.options);
  }

  /** Inputs of the shifted train graph: ids = tokens[:, :-1], targets = tokens[:, 1:]. */
  private feeds(batch: TokenBatch): Record<string, HostValue> {
    const { batchSize: B, length: T } = batch;
    const S = T - 1;
    const inputIds = new BigInt64Array(B * S);
    const targetIds = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    const positions = new BigInt64Array(B * S);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < S; t++) {
        inputIds[b * S + t] = BigInt(batch.tokens[b * T + t]!);
        targetIds[b * S + t] = BigInt(batch.tokens[b * T + t + 1]!);
        mask[b * S + t] = BigInt(batch.attentionMask[b * T + t]!);
        positions[b * S + t] = BigInt(t);
      }
    }
    const feeds: Record<string, HostValue> = {
      [N.inputIds]: { dtype: 'int64', shape: [B, S], data: inputIds },
      [N.targetIds]: { dtype: 'int64', shape: [B, S], data: targetIds },
      [N.attentionMask]: { dtype: 'int64', shape: [B, S], data: mask },
      [N.positionIds]: { dtype: 'int64', shape: [B, S], data: positions },
    };
    return weightFeeds(this.weights, feeds);
  }

  /** Moves (B, T−1) graph outputs to positions 1..T−1 of a (B, T) array (position 0 stays 0). */
  private static shiftIn(values: Float32Array, B: number, T: number): Float32Array {
    const out = new Float32Array(B * T);
    for (let b = 0; b < B; b++) out.set(values.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T + 1);
    return out;
  }

  private static shiftOut(values: Float32Array | undefined, B: number, T: number): Float32Array {
    const out = new Float32Array(B * (T - 1));
    if (values !== undefined)
      for (let b = 0; b < B; b++) out.set(values.subarray(b * T + 1, (b + 1) * T), b * (T - 1));
    return out;
  }

  /** logprobs[b, t] = log P(tokens[b, t] | tokens[b, <t]) and the entropy that predicted it. */
  async forward(batch: TokenBatch): Promise<{ logprobs: Float32Array; entropies: Float32Array }> {
    checkTokenBatch(batch, this.config.vocabSize);
    const { batchSize: B, length: T } = batch;
    if (T < 2) return { logprobs: new Float32Array(B * T), entropies: new Float32Array(B * T) };
    const session = await this.sessions.get('forward');
    const out = await session.run(this.feeds(batch), [N.logprobs, N.entropy]);
    return {
      logprobs: OrtTrainablePolicy.shiftIn(out[N.logprobs]!.data as Float32Array, B, T),
      entropies: OrtTrainablePolicy.shiftIn(out[N.entropy]!.data as Float32Array, B, T),
    };
  }

  /** ∂/∂W of Σ (upstream.logprobs·logprobs + upstream.entropies·entropies), for every weight. */
  async backward(batch: TokenBatch, upstream: Upstream): Promise<TensorBuffers> {
    return (await this.forwardBackward(batch, upstream)).grads;
  }

  /**
   * One run of the gradient graph, returning the forward outputs with the gradients. When the
   * upstream gradients do not depend on the forward (SFT's −mask/count), this is the whole step:
   * no separate forward pass.
   */
  async forwardBackward(
    batch: TokenBatch,
    upstream: Upstream,
  ): Promise<{
    forward: { logprobs: Float32Array; entropies: Float32Array };
    grads: TensorBuffers;
  }> {
    checkTokenBatch(batch, this.config.vocabSize, upstream);
    const { batchSize: B, length: T } = batch;
    const grads = new Map<string, Float32Array>();
    if (T < 2) {
      for (const [name, data] of this.parameters) grads.set(name, new Float32Array(data.length));
      return { forward: { logprobs: new Float32Array(B * T), entropies: new Float32Array(B * T) }, grads };
    }
    const withEntropy = upstream.entropies?.some((g) => g !== 0) === true;
    const session = await this.sessions.get(withEntropy ? 'grad-entropy' : 'grad');
    const feeds = this.feeds(batch);
    feeds[N.gradLogprobs] = {
      dtype: 'float32',
      shape: [B, T - 1],
      data: OrtTrainablePolicy.shiftOut(upstream.logprobs, B, T),
    };
    if (withEntropy) {
      feeds[N.gradEntropy] = {
        dtype: 'float32',
        shape: [B, T - 1],
        data: OrtTrainablePolicy.shiftOut(upstream.entropies, B, T),
      };
    }
    const names = [...this.parameters.keys()];
    const out = await session.run(feeds, [N.logprobs, N.entropy, ...names.map((name) => N.gradient(name))]);
    for (const name of names) grads.set(name, out[N.gradient(name)]!.data as Float32Array);
    return {
      forward: {
        logprobs: OrtTrainablePolicy.shiftIn(out[N.logprobs]!.data as Float32Array, B, T),
        entropies: OrtTrainablePolicy.shiftIn(out[N.entropy]!.data as Float32Array, B, T),
      },
      grads,
    };
  }

  /** Host↔device bytes of this policy's runs (what a GPU run would copy), summed over its sessions. */
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
