// The Qwen2/Llama decoder written once with @sr1/graph: prefill/decode graphs with a KV cache for
// generation, and a train graph that yields per-token log-probs (and entropy) of given targets
// plus, optionally, the gradients of every weight emitted by the autodiff into the same graph.
// The layers are built by attention.ts, mlp.ts and block.ts; this file wires inputs, the stack of
// blocks, and the heads and objectives.

import { InvalidInputError } from '@sr1/core';
import type { DType, Tensor } from '@sr1/graph';
import { Graph, gradients } from '@sr1/graph';
import type { DecoderConfig } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';
import { expectedWeights } from '../formats/weights.js';
import { type AttentionShared, attentionMask, rotaryEmbedding } from './attention.js';
import { decoderBlock } from './block.js';
import { computeMatmul, type DecoderBuilder, rmsNorm } from './builder.js';
import { DECODER_NAMES } from './names.js';
import { kvCacheDtype, type Precision } from './precision.js';

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
  /**
   * Compute precision (see `Precision`): 'float16'/'bfloat16' run every MatMul in that type on
   * operands cast from the float32 weights and activations, the rest in `dtype`; the KV cache
   * crosses the graph boundary as `kvCacheDtype(precision)`. Default 'float32': `dtype` throughout.
   */
  precision?: Precision;
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
  /**
   * prefill/decode: q/k/v and gate/up as one MatMul each over concatenated weights (see
   * `DecoderBuilder.concatProjections`). Only for weights held as initializers.
   */
  concatProjections?: boolean;
  /** Embedding gradient strategy (see @sr1/graph). */
  embeddingGradient?: 'scatter' | 'onehot';
}

export { DECODER_NAMES } from './names.js';

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
  const hasPast = mode === 'decode';
  const total = hasPast ? 'past+seq' : 'seq';

  const inputIds = g.input(N.inputIds, 'int64', ['batch', 'seq']);
  const attentionMaskInput = g.input(N.attentionMask, 'int64', ['batch', total]);
  const positionIds = g.input(N.positionIds, 'int64', ['batch', 'seq']);

  const weights = new Map<string, Tensor>();
  for (const [name, spec] of expectedWeights(config)) weights.set(name, g.input(name, dtype, spec.shape));
  const w = (name: string): Tensor => {
    const t = weights.get(name);
    if (t === undefined)
      throw new EngineInvariantError(`decoder graph: weight ${name} is not expected for this config`);
    return t;
  };
  const precision = options.precision ?? 'float32';
  if (precision !== 'float32' && dtype !== 'float32')
    throw new InvalidInputError({
      field: 'precision',
      reason: `a '${precision}' compute precision needs float32 master weights, not ${dtype}`,
    });
  const b: DecoderBuilder = {
    g,
    config,
    dtype,
    ...(precision !== 'float32' ? { compute: precision, cacheDtype: kvCacheDtype(precision) } : {}),
    fused: options.fused === true && mode !== 'train',
    weight: w,
    concatProjections: options.concatProjections === true && mode !== 'train',
  };

  const layout = mode === 'train' ? 'batch-major' : (options.cacheLayout ?? 'batch-major');
  const appendOnly = layout !== 'batch-major'; // outputs only the new entries
  const shared: AttentionShared = {
    rotary: rotaryEmbedding(b, positionIds),
    mask: attentionMask(b, inputIds, attentionMaskInput, total),
    cache: { hasPast, timeMajor: layout === 'time-major', appendOnly, total, emitPresents: mode !== 'train' },
    attentionMask: attentionMaskInput,
    inputIds,
  };
  const presents: Tensor[] = [];
  const newEntries: Tensor[] = [];
  let h = g.gather(w('model.embed_tokens.weight'), inputIds, 0); // (batch, seq, hidden)
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const block = decoderBlock(b, h, layer, shared);
    h = block.hidden;
    presents.push(...block.presents);
    newEntries.push(...block.newEntries);
  }
  let final = rmsNorm(b, h, w('model.norm.weight')); // (batch, seq, hidden)
  const head = w(config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'); // (vocab, hidden)

  const outputs: Tensor[] = [];
  const grads = new Map<string, Tensor>();
  if (mode !== 'train') {
    if (options.lastOnly === true)
      final = g.squeeze(g.slice(final, [-1], [Number.MAX_SAFE_INTEGER], [1]), [1]); // (batch, hidden)
    outputs.push(g.output(headLogits(b, final, head), N.logits));
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
    let scores = computeMatmul(b, final, g.transpose(scoreWeight, [1, 0])); // (batch, seq, 1)
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

  const logits = headLogits(b, final, head); // (batch, seq, vocab), log-softmax in float32
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

/** `final·headᵀ` in the compute dtype, logits in `b.dtype`; `head` (vocab, hidden) is a graph input. */
function headLogits(b: DecoderBuilder, final: Tensor, head: Tensor): Tensor {
  if (b.compute === undefined || b.compute === b.dtype) return b.g.matmul(final, b.g.transpose(head, [1, 0])); // today's graph, node for node
  return computeMatmul(b, final, b.g.transpose(b.g.cast(head, b.compute), [1, 0]));
}
