// The Qwen2/Llama decoder written once with @sr1/graph: prefill/decode graphs with a KV cache for
// generation, and a train graph that yields per-token log-probs (and entropy) of given targets
// plus, optionally, the gradients of every weight emitted by the autodiff into the same graph.

import { InvalidInputError } from '@sr1/core';
import type { DType, Tensor } from '@sr1/graph';
import { Graph, gradients } from '@sr1/graph';
import type { DecoderConfig } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';
import { expectedWeights } from '../formats/weights.js';

/** Which graph to build. */
export type DecoderMode = 'prefill' | 'decode' | 'train';

/**
 * What the train graph differentiates:
 * - 'none': forward only (log-probs, entropy);
 * - 'upstream': Σ_t grad_logprobs[b,t]·∂logprobs[b,t]/∂W (+ the same for entropy when
 *   `entropyGradient`), the RL seam: dLoss/dLogprob is computed in TypeScript and fed in;
 * - 'sft': the masked mean cross-entropy `loss` = −Σ mask·logprob / Σ mask, and its gradient.
 */
export type TrainObjective = 'none' | 'upstream' | 'sft';

/** Options of `buildDecoderGraph`. */
export interface DecoderGraphOptions {
  mode: DecoderMode;
  /** Compute dtype of weights and activations (float64 for finite-difference checks). */
  dtype?: 'float32' | 'float64'; // float32: what checkpoints hold and ORT runs fastest
  /** prefill/decode: emit logits for the last position only (batch, vocab). */
  lastOnly?: boolean;
  /** train: what to differentiate (default 'none'). */
  objective?: TrainObjective;
  /** train + 'upstream': also feed grad_entropy (an entropy bonus). */
  entropyGradient?: boolean;
  /**
   * prefill/decode: use ONNX opset-23 fused ops (RMSNormalization, RotaryEmbedding, Attention)
   * instead of their plain-op expansions. Inference only: fused ops have no gradient rules.
   */
  fused?: boolean;
  /**
   * train: 'lm' (default) scores target tokens; 'value' replaces lm_head by a scalar value head
   * `score.weight` (1, hidden) (+ `score.bias` (1)), the critic of PPO, as HF's
   * `*ForTokenClassification` with num_labels = 1 (veRL's critic) lays it out.
   */
  head?: 'lm' | 'value';
  /** Value head with a bias (HF's token-classification `score` has one). Default true. */
  valueHeadBias?: boolean;
  /**
   * prefill/decode KV layout.
   * - 'batch-major' (default): past_key.i (batch, kvHeads, past, headDim) in, present_key.i
   *   (batch, kvHeads, past+seq, headDim) out.
   * - 'time-major': past_key.i (past, batch, kvHeads, headDim) in, only the new entries
   *   new_key.i (seq, batch, kvHeads, headDim) out, so a runner appends to one growing buffer.
   * - 'static': past_key.i (batch, kvHeads, capacity, headDim) in — a preallocated cache whose
   *   unused slots attention_mask marks 0 — and new_key.i (batch, kvHeads, seq, headDim) out: the
   *   graph never copies the cache; the runner writes the new entries into their slots.
   */
  cacheLayout?: 'batch-major' | 'time-major' | 'static';
  /** Embedding gradient strategy (see @sr1/graph). */
  embeddingGradient?: 'scatter' | 'onehot';
}

/** Graph input/output names (weights use their HF names). */
export const DECODER_NAMES = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  targetIds: 'target_ids',
  lossMask: 'loss_mask',
  gradLogprobs: 'grad_logprobs',
  gradEntropy: 'grad_entropy',
  gradValues: 'grad_values',
  values: 'values',
  logits: 'logits',
  logprobs: 'logprobs',
  entropy: 'entropy',
  loss: 'loss',
  pastKey: (layer: number) => `past_key.${layer}`,
  pastValue: (layer: number) => `past_value.${layer}`,
  presentKey: (layer: number) => `present_key.${layer}`,
  presentValue: (layer: number) => `present_value.${layer}`,
  newKey: (layer: number) => `new_key.${layer}`,
  newValue: (layer: number) => `new_value.${layer}`,
  gradient: (weight: string) => `grad.${weight}`,
} as const;

/** A built decoder graph and its named endpoints. */
export interface DecoderGraph {
  graph: Graph;
  mode: DecoderMode;
  /** HF weight name → graph input. */
  weights: Map<string, Tensor>;
  /** Graph outputs in a fixed order (logits/logprobs…, presents, gradients). */
  outputs: Tensor[];
  /** HF weight name → gradient output (train with an objective). */
  gradients: Map<string, Tensor>;
}

const NEG_LARGE = -1e9; // masked attention scores; finite so fully padded rows stay NaN-free

/** Builds the decoder graph for `mode`. Shapes: ids (batch, seq); mask (batch, past+seq). */
export function buildDecoderGraph(config: DecoderConfig, options: DecoderGraphOptions): DecoderGraph {
  const dtype: DType = options.dtype ?? 'float32';
  const mode = options.mode;
  const g = new Graph(`decoder-${mode}`);
  const N = DECODER_NAMES;
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  if (!Number.isInteger(heads / kvHeads)) {
    throw new InvalidInputError({
      field: 'numKeyValueHeads',
      reason: `${kvHeads} does not divide numAttentionHeads ${heads}`,
    });
  }
  if (headDim % 2 !== 0)
    throw new InvalidInputError({
      field: 'headDim',
      reason: `rotary embeddings need an even headDim, got ${headDim}`,
    });
  if (options.head === 'value' && mode !== 'train') {
    throw new InvalidInputError({
      field: 'head',
      reason: `the value head exists in train mode only, not '${mode}'`,
    });
  }
  const group = heads / kvHeads;
  const hasPast = mode === 'decode';
  const total = hasPast ? 'past+seq' : 'seq';

  const inputIds = g.input(N.inputIds, 'int64', ['batch', 'seq']);
  const attentionMask = g.input(N.attentionMask, 'int64', ['batch', total]);
  const positionIds = g.input(N.positionIds, 'int64', ['batch', 'seq']);

  const weights = new Map<string, Tensor>();
  for (const [name, spec] of expectedWeights(config)) weights.set(name, g.input(name, dtype, spec.shape));
  const w = (name: string): Tensor => {
    const t = weights.get(name);
    if (t === undefined)
      throw new EngineInvariantError(`decoder graph: weight ${name} is not expected for this config`);
    return t;
  };
  const linear = (x: Tensor, prefix: string, bias: boolean): Tensor => {
    const weight = w(`${prefix}.weight`); // (out, in)
    const y = g.matmul(x, g.transpose(weight, [1, 0])); // (batch, seq, out)
    return bias ? g.add(y, w(`${prefix}.bias`)) : y;
  };
  const fused = options.fused === true && mode !== 'train';
  const rmsNorm = (x: Tensor, weight: Tensor): Tensor => {
    if (fused) {
      return g.custom({
        opType: 'RMSNormalization',
        domainVersion: 23,
        inputs: [x, weight],
        outputs: [{ dtype, shape: x.shape }],
        attributes: {
          epsilon: { type: 'float', value: config.rmsNormEps },
          axis: { type: 'int', value: -1 },
        },
      })[0]!;
    }
    const variance = g.reduceMean(g.mul(x, x), [-1], true); // (batch, seq, 1)
    const inv = g.reciprocal(g.sqrt(g.add(variance, g.scalar(config.rmsNormEps, dtype))));
    return g.mul(g.mul(x, inv), weight);
  };

  // Rotary tables from positions: cos/sin (batch, 1, seq, headDim), HF rotate_half layout.
  const half = headDim / 2;
  const invFreq = Array.from({ length: half }, (_, i) => 1 / config.ropeTheta ** ((2 * i) / headDim));
  const invFreqT = g.constant({
    dtype,
    shape: [half],
    data: dtype === 'float64' ? Float64Array.from(invFreq) : Float32Array.from(invFreq),
  });
  const freqs = g.mul(g.unsqueeze(g.cast(positionIds, dtype), [-1]), invFreqT); // (batch, seq, half)
  const angles = g.unsqueeze(g.concat([freqs, freqs], -1), [1]); // (batch, 1, seq, headDim)
  const cos = g.cos(angles);
  const sin = g.sin(angles);
  const halfCos = fused ? g.cos(freqs) : undefined; // (batch, seq, half): RotaryEmbedding's cache layout
  const halfSin = fused ? g.sin(freqs) : undefined;
  const rotate = (x: Tensor): Tensor => {
    if (fused) {
      return g.custom({
        opType: 'RotaryEmbedding',
        domainVersion: 23,
        inputs: [x, halfCos!, halfSin!],
        outputs: [{ dtype, shape: x.shape }],
      })[0]!;
    }
    // x (batch, h, seq, headDim): x·cos + rotate_half(x)·sin, rotate_half = [−x2, x1]
    const x1 = g.slice(x, [0], [half], [-1]);
    const x2 = g.slice(x, [half], [headDim], [-1]);
    return g.add(g.mul(x, cos), g.mul(g.concat([g.neg(x2), x1], -1), sin));
  };

  // Causal + padding mask, (batch, 1, 1, seq, total) bool: key j visible to query i iff
  // j ≤ past + i and attention_mask[b, j] = 1.
  const scalarDim = (t: Tensor, axis: number) => g.squeeze(g.shapeOf(t, axis, axis + 1), [0]);
  const seqLen = scalarDim(inputIds, 1);
  const totalLen = scalarDim(attentionMask, 1);
  const zero = g.scalar(0, 'int64');
  const one = g.scalar(1, 'int64');
  const queryPos = g.add(g.range(zero, seqLen, one, 'seq'), g.sub(totalLen, seqLen)); // (seq)
  const keyPos = g.range(zero, totalLen, one, total); // (total)
  const causal = g.not(g.greater(keyPos, g.unsqueeze(queryPos, [1]))); // (seq, total)
  const padding = g.equal(attentionMask, one); // (batch, total)
  const visible = g.and(g.unsqueeze(causal, [0]), g.unsqueeze(padding, [1])); // (batch, seq, total)
  const visible5 = g.unsqueeze(visible, [1, 2]); // (batch, 1, 1, seq, total)
  const visible4 = fused ? g.unsqueeze(visible, [1]) : undefined; // (batch, 1, seq, total)
  const masked = g.scalar(NEG_LARGE, dtype);
  const scale = g.scalar(1 / Math.sqrt(headDim), dtype);

  const presents: Tensor[] = [];
  const newEntries: Tensor[] = [];
  const layout = mode === 'train' ? 'batch-major' : (options.cacheLayout ?? 'batch-major');
  const timeMajor = layout === 'time-major';
  const appendOnly = layout !== 'batch-major'; // outputs only the new entries
  let h = g.gather(w('model.embed_tokens.weight'), inputIds, 0); // (batch, seq, hidden)
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const p = `model.layers.${layer}`;
    h = g.scope(`layer${layer}`, () => {
      const x = rmsNorm(h, w(`${p}.input_layernorm.weight`));
      const q = g.transpose(
        g.reshape(linear(x, `${p}.self_attn.q_proj`, config.attentionBias), [0, 0, heads, headDim]),
        [0, 2, 1, 3],
      ); // (batch, heads, seq, headDim)
      const k = g.transpose(
        g.reshape(linear(x, `${p}.self_attn.k_proj`, config.attentionBias), [0, 0, kvHeads, headDim]),
        [0, 2, 1, 3],
      ); // (batch, kvHeads, seq, headDim)
      const v = g.transpose(
        g.reshape(linear(x, `${p}.self_attn.v_proj`, config.attentionBias), [0, 0, kvHeads, headDim]),
        [0, 2, 1, 3],
      );
      const pastInput = (name: string): Tensor | null => {
        if (!hasPast) return null;
        if (!timeMajor)
          return g.input(name, dtype, ['batch', kvHeads, 'past', headDim], { differentiable: false });
        const past = g.input(name, dtype, ['past', 'batch', kvHeads, headDim], { differentiable: false });
        return g.transpose(past, [1, 2, 0, 3]); // (batch, kvHeads, past, headDim)
      };
      const pastKey = pastInput(N.pastKey(layer));
      const pastValue = pastInput(N.pastValue(layer));
      const rotatedKey = rotate(k); // (batch, kvHeads, seq, headDim)
      if (timeMajor)
        newEntries.push(g.transpose(rotatedKey, [2, 0, 1, 3]), g.transpose(v, [2, 0, 1, 3])); // (seq, batch, kvHeads, headDim)
      else if (appendOnly) newEntries.push(rotatedKey, v); // (batch, kvHeads, seq, headDim)
      let context: Tensor; // (batch, heads, seq, headDim)
      if (fused) {
        // Opset-23 Attention: GQA by q/kv head counts, our causal+padding mask, cache concat inside.
        const [attention, presentKey, presentValue] = g.custom({
          opType: 'Attention',
          domainVersion: 23,
          inputs: [rotate(q), rotatedKey, v, visible4!, pastKey, pastValue],
          outputs: [
            { dtype, shape: q.shape },
            { dtype, shape: ['batch', kvHeads, total, headDim] },
            { dtype, shape: ['batch', kvHeads, total, headDim] },
          ],
          attributes: {
            q_num_heads: { type: 'int', value: heads },
            kv_num_heads: { type: 'int', value: kvHeads },
          },
        }) as [Tensor, Tensor, Tensor];
        presents.push(presentKey, presentValue);
        context = attention;
      } else {
        // GQA without copying K/V: queries grouped (batch, kvHeads, group, seq, headDim) against
        // keys (batch, kvHeads, 1, ·, headDim), batch dims broadcast in MatMul.
        const q5 = g.reshape(g.mul(rotate(q), scale), [0, kvHeads, group, -1, headDim]);
        const q5T = g.transpose(q5, [0, 1, 2, 4, 3]); // (batch, kvHeads, group, headDim, seq)
        // (K·qᵀ)ᵀ rather than q·Kᵀ: transposing the few query rows is cheap, while ORT would fold a
        // transpose of K with the time-major cache's into one slow element-wise transpose of the
        // whole cache every step (28 ms of a 52 ms layer at past 1024, batch 8).
        const scoresOf = (keys: Tensor) => g.matmul(g.unsqueeze(keys, [2]), q5T); // (batch, kvHeads, group, ·, seq)
        if (appendOnly && pastKey !== null && pastValue !== null) {
          // Append-only layouts: attend to the past and the new entries separately, so the cache
          // is never concatenated (the runner stores the new entries itself).
          const scoresT = g.concat([scoresOf(pastKey), scoresOf(rotatedKey)], 3); // (batch, kvHeads, group, total, seq)
          const probs = g.softmax(g.where(visible5, g.transpose(scoresT, [0, 1, 2, 4, 3]), masked), -1);
          const pastLength = g.sub(g.shapeOf(attentionMask, 1, 2), g.shapeOf(inputIds, 1, 2)); // [past]
          const lastAxis = g.int64s([-1]);
          const probsPast = g.emitRaw(
            'Slice',
            [probs, g.int64s([0]), pastLength, lastAxis],
            [{ dtype, shape: [...probs.shape.slice(0, 4), 'past'] }],
            {},
          )[0]!;
          const probsNew = g.emitRaw(
            'Slice',
            [probs, pastLength, g.int64s([Number.MAX_SAFE_INTEGER]), lastAxis],
            [{ dtype, shape: [...probs.shape.slice(0, 4), 'seq'] }],
            {},
          )[0]!;
          const fromPast = g.matmul(probsPast, g.unsqueeze(pastValue, [2]));
          const fromNew = g.matmul(probsNew, g.unsqueeze(v, [2]));
          context = g.reshape(g.add(fromPast, fromNew), [0, heads, -1, headDim]);
        } else {
          let keys = rotatedKey;
          let values = v;
          if (pastKey !== null && pastValue !== null) {
            keys = g.concat([pastKey, keys], 2); // (batch, kvHeads, total, headDim)
            values = g.concat([pastValue, values], 2);
          }
          if (mode !== 'train') presents.push(keys, values);
          const scores = g.transpose(scoresOf(keys), [0, 1, 2, 4, 3]); // (batch, kvHeads, group, seq, total)
          const probs = g.softmax(g.where(visible5, scores, masked), -1);
          context = g.reshape(g.matmul(probs, g.unsqueeze(values, [2])), [0, heads, -1, headDim]);
        }
      }
      const merged = g.reshape(g.transpose(context, [0, 2, 1, 3]), [0, 0, heads * headDim]); // (batch, seq, heads·headDim)
      const attended = g.add(h, linear(merged, `${p}.self_attn.o_proj`, config.outputBias));
      const y = rmsNorm(attended, w(`${p}.post_attention_layernorm.weight`));
      const gate = linear(y, `${p}.mlp.gate_proj`, config.mlpBias);
      const up = linear(y, `${p}.mlp.up_proj`, config.mlpBias);
      const act = g.mul(g.mul(gate, g.sigmoid(gate)), up); // SwiGLU
      return g.add(attended, linear(act, `${p}.mlp.down_proj`, config.mlpBias));
    });
  }
  let final = rmsNorm(h, w('model.norm.weight')); // (batch, seq, hidden)
  const head = w(config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'); // (vocab, hidden)

  const outputs: Tensor[] = [];
  const grads = new Map<string, Tensor>();
  if (mode !== 'train') {
    if (options.lastOnly === true)
      final = g.squeeze(g.slice(final, [-1], [Number.MAX_SAFE_INTEGER], [1]), [1]); // (batch, hidden)
    outputs.push(g.output(g.matmul(final, g.transpose(head, [1, 0])), N.logits));
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      if (appendOnly) {
        outputs.push(g.output(newEntries[2 * layer]!, N.newKey(layer)));
        outputs.push(g.output(newEntries[2 * layer + 1]!, N.newValue(layer)));
      } else {
        outputs.push(g.output(presents[2 * layer]!, N.presentKey(layer)));
        outputs.push(g.output(presents[2 * layer + 1]!, N.presentValue(layer)));
      }
    }
    return { graph: g, mode, weights, outputs, gradients: grads };
  }

  const objective = options.objective ?? 'none';
  const gradOptions =
    options.embeddingGradient !== undefined ? { embeddingGradient: options.embeddingGradient } : {};
  const emitGradients = (result: Tensor[], names: string[]) => {
    names.forEach((name, i) => {
      const out = g.output(result[i]!, N.gradient(name));
      grads.set(name, out);
      outputs.push(out);
    });
  };
  if (options.head === 'value') {
    const scoreWeight = g.input('score.weight', dtype, [1, config.hiddenSize]);
    weights.set('score.weight', scoreWeight);
    let scores = g.matmul(final, g.transpose(scoreWeight, [1, 0])); // (batch, seq, 1)
    if (options.valueHeadBias ?? true) {
      const scoreBias = g.input('score.bias', dtype, [1]);
      weights.set('score.bias', scoreBias);
      scores = g.add(scores, scoreBias);
    }
    const values = g.squeeze(scores, [-1]); // (batch, seq)
    outputs.push(g.output(values, N.values));
    weights.delete('lm_head.weight'); // unused by a critic
    if (objective === 'none') return { graph: g, mode, weights, outputs, gradients: grads };
    if (objective !== 'upstream')
      throw new EngineInvariantError(
        `decoder graph: the value head supports objective 'upstream', not '${objective}'`,
      );
    const names = [...weights.keys()];
    const upstream = g.input(N.gradValues, dtype, ['batch', 'seq'], { differentiable: false });
    emitGradients(
      gradients(
        g,
        { outputs: [values], upstream: [upstream] },
        names.map((n) => weights.get(n)!),
        gradOptions,
      ),
      names,
    );
    return { graph: g, mode, weights, outputs, gradients: grads };
  }

  const logits = g.matmul(final, g.transpose(head, [1, 0])); // (batch, seq, vocab)
  const logSoftmax = g.logSoftmax(logits, -1);
  const targetIds = g.input(N.targetIds, 'int64', ['batch', 'seq']);
  const logprobs = g.squeeze(g.gatherElements(logSoftmax, g.unsqueeze(targetIds, [-1]), 2), [-1]); // (batch, seq)
  const entropy = g.neg(g.reduceSum(g.mul(g.exp(logSoftmax), logSoftmax), [-1], false)); // (batch, seq)
  outputs.push(g.output(logprobs, N.logprobs), g.output(entropy, N.entropy));

  if (objective === 'none') return { graph: g, mode, weights, outputs, gradients: grads };
  const names = [...weights.keys()];
  const params = names.map((n) => weights.get(n)!);
  let result: Tensor[];
  if (objective === 'sft') {
    const lossMask = g.input(N.lossMask, dtype, ['batch', 'seq'], { differentiable: false });
    const count = g.reduceSum(lossMask, [0, 1], false);
    const loss = g.div(g.neg(g.reduceSum(g.mul(logprobs, lossMask), [0, 1], false)), count);
    outputs.push(g.output(loss, N.loss));
    result = gradients(g, { loss }, params, gradOptions);
  } else {
    const upstreamOutputs = [logprobs];
    const upstream = [g.input(N.gradLogprobs, dtype, ['batch', 'seq'], { differentiable: false })];
    if (options.entropyGradient === true) {
      upstreamOutputs.push(entropy);
      upstream.push(g.input(N.gradEntropy, dtype, ['batch', 'seq'], { differentiable: false }));
    }
    result = gradients(g, { outputs: upstreamOutputs, upstream }, params, gradOptions);
  }
  emitGradients(result, names);
  return { graph: g, mode, weights, outputs, gradients: grads };
}
