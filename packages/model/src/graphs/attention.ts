// Causal self-attention of one decoder layer (nanoGPT's CausalSelfAttention) with grouped-query
// heads, rotary position embeddings and a KV cache, plus what every layer's attention shares: the
// rotary tables and the causal + padding mask, built once per graph.

import type { Tensor } from '@sr1/graph';
import { EngineInvariantError } from '../errors.js';
import { castTo, computeDtype, computeMatmul, type DecoderBuilder, linear, linears } from './builder.js';
import { DECODER_NAMES as N } from './names.js';

const NEG_LARGE = -1e9; // masked attention scores; finite so fully padded rows stay NaN-free

/** Rotary position embedding over the graph's position ids, HF's rotate_half layout. */
export interface Rotary {
  /** x (batch, h, seq, headDim) → x·cos + rotate_half(x)·sin */
  apply(x: Tensor): Tensor;
  /**
   * Fused graphs: x (batch, seq, numHeads·headDim), heads packed in the last axis, rotated in
   * place by one RotaryEmbedding (no reshape or transpose around it).
   */
  applyPacked(x: Tensor, numHeads: number): Tensor;
}

/** Builds the rotary tables from `positionIds` (batch, seq): cos/sin (batch, 1, seq, headDim). */
export function rotaryEmbedding(b: DecoderBuilder, positionIds: Tensor): Rotary {
  const { g, config, dtype, fused } = b;
  const { headDim } = config;
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
  return {
    apply(x: Tensor): Tensor {
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
    },
    applyPacked(x: Tensor, numHeads: number): Tensor {
      if (!fused) throw new EngineInvariantError('rotary: applyPacked needs the fused ops');
      return g.custom({
        opType: 'RotaryEmbedding',
        domainVersion: 23,
        inputs: [x, halfCos!, halfSin!],
        outputs: [{ dtype, shape: x.shape }],
        attributes: { num_heads: { type: 'int', value: numHeads } },
      })[0]!;
    },
  };
}

/** The causal + padding mask every layer attends with, and the constants around it. */
export interface AttentionMask {
  /** (batch, 1, 1, seq, total) bool: key j visible to query i iff j ≤ past + i and mask[b, j] = 1. */
  visible5: Tensor;
  /** (batch, 1, seq, total) bool, the fused Attention op's mask; fused graphs only. */
  visible4: Tensor | undefined;
  /** The score a hidden key gets. */
  masked: Tensor;
  /** 1/√headDim, applied to the queries. */
  scale: Tensor;
}

/** Builds the mask from `inputIds` (batch, seq) and `attentionMask` (batch, total). */
export function attentionMask(
  b: DecoderBuilder,
  inputIds: Tensor,
  attentionMaskInput: Tensor,
  total: string,
): AttentionMask {
  const { g, dtype, fused } = b;
  const scalarDim = (t: Tensor, axis: number) => g.squeeze(g.shapeOf(t, axis, axis + 1), [0]);
  const seqLen = scalarDim(inputIds, 1);
  const totalLen = scalarDim(attentionMaskInput, 1);
  const zero = g.scalar(0, 'int64');
  const one = g.scalar(1, 'int64');
  const queryPos = g.add(g.range(zero, seqLen, one, 'seq'), g.sub(totalLen, seqLen)); // (seq)
  const keyPos = g.range(zero, totalLen, one, total); // (total)
  const causal = g.not(g.greater(keyPos, g.unsqueeze(queryPos, [1]))); // (seq, total)
  const padding = g.equal(attentionMaskInput, one); // (batch, total)
  const visible = g.and(g.unsqueeze(causal, [0]), g.unsqueeze(padding, [1])); // (batch, seq, total)
  return {
    visible5: g.unsqueeze(visible, [1, 2]), // (batch, 1, 1, seq, total)
    visible4: fused ? g.unsqueeze(visible, [1]) : undefined, // (batch, 1, seq, total)
    masked: g.scalar(NEG_LARGE, dtype),
    scale: g.scalar(1 / Math.sqrt(b.config.headDim), dtype),
  };
}

/** How the KV cache enters and leaves the graph (see `DecoderGraphOptions.cacheLayout`). */
export interface KvCacheLayout {
  /** decode: past keys/values are graph inputs. */
  hasPast: boolean;
  /** past_key.i is (past, batch, kvHeads, headDim); new entries leave as (seq, batch, kvHeads, headDim). */
  timeMajor: boolean;
  /** Only the new entries leave the graph (time-major and static layouts). */
  appendOnly: boolean;
  /** Name of the past+seq dimension. */
  total: string;
  /** Whether the concatenated cache leaves the graph as present_key/value (not in train mode). */
  emitPresents: boolean;
  /**
   * The past keys and values of a layer as values already in the graph (a Loop body's carried
   * cache, static layout (batch, kvHeads, past, headDim)) instead of graph inputs.
   */
  past?: (layer: number) => { key: Tensor; value: Tensor };
}

/** What the attention of a layer shares with the others. */
export interface AttentionShared {
  rotary: Rotary;
  mask: AttentionMask;
  cache: KvCacheLayout;
  /** (batch, total) int64 graph input, for the past length of append-only layouts. */
  attentionMask: Tensor;
  /** (batch, seq) int64 graph input. */
  inputIds: Tensor;
}

/** One layer's attention output and the cache tensors it hands back. */
export interface AttentionResult {
  /** o_proj of the attended values, (batch, seq, hidden); the block adds the residual. */
  output: Tensor;
  /** Full keys and values (past + new), (batch, kvHeads, total, headDim) each. */
  presents: Tensor[];
  /** Only the new keys and values, in the layout's shape. */
  newEntries: Tensor[];
}

/** Causal grouped-query self-attention of `layer` over `x` (batch, seq, hidden). */
export function causalSelfAttention(
  b: DecoderBuilder,
  x: Tensor,
  layer: number,
  shared: AttentionShared,
): AttentionResult {
  const { g, config, dtype, fused } = b;
  const compute = computeDtype(b);
  const cacheDtype = b.cacheDtype ?? dtype;
  const { rotary, mask, cache } = shared;
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const group = heads / kvHeads;
  const p = `model.layers.${layer}.self_attn`;
  const presents: Tensor[] = [];
  const newEntries: Tensor[] = [];
  const [qProj, kProj, vProj] = linears(
    b,
    x,
    [`${p}.q_proj`, `${p}.k_proj`, `${p}.v_proj`],
    config.attentionBias,
  ) as [Tensor, Tensor, Tensor];
  const carriedPast = cache.hasPast ? cache.past?.(layer) : undefined;
  const pastInput = (name: string): Tensor | null => {
    if (!cache.hasPast) return null;
    if (carriedPast !== undefined) return name === N.pastKey(layer) ? carriedPast.key : carriedPast.value;
    if (!cache.timeMajor)
      return g.input(name, cacheDtype, ['batch', kvHeads, 'past', headDim], { differentiable: false });
    const past = g.input(name, cacheDtype, ['past', 'batch', kvHeads, headDim], { differentiable: false });
    return g.transpose(past, [1, 2, 0, 3]); // (batch, kvHeads, past, headDim)
  };
  const pastKey = pastInput(N.pastKey(layer));
  const pastValue = pastInput(N.pastValue(layer));
  if (fused) {
    // Opset-23 RotaryEmbedding and Attention on the projections as they come, heads packed in
    // the last axis (batch, seq, heads·headDim): GQA by q/kv head counts, our causal+padding
    // mask, the cache concat inside, and the output already (batch, seq, hidden). Only the new
    // keys and values are reshaped, for the cache. With a half compute dtype the op runs in it,
    // its softmax included (as autocast's scaled_dot_product_attention does).
    const rotatedQuery = rotary.applyPacked(qProj, heads);
    const rotatedKey = rotary.applyPacked(kProj, kvHeads); // (batch, seq, kvHeads·headDim)
    const inCompute = (t: Tensor | null) => (t === null ? null : castTo(b, t, compute));
    const [attentionCompute, presentKey, presentValue] = g.custom({
      opType: 'Attention',
      domainVersion: 23,
      inputs: [
        inCompute(rotatedQuery),
        inCompute(rotatedKey),
        inCompute(vProj),
        mask.visible4!,
        inCompute(pastKey),
        inCompute(pastValue),
      ],
      outputs: [
        { dtype: compute, shape: qProj.shape },
        { dtype: compute, shape: ['batch', kvHeads, cache.total, headDim] },
        { dtype: compute, shape: ['batch', kvHeads, cache.total, headDim] },
      ],
      attributes: {
        q_num_heads: { type: 'int', value: heads },
        kv_num_heads: { type: 'int', value: kvHeads },
      },
    }) as [Tensor, Tensor, Tensor];
    const attention = castTo(b, attentionCompute, dtype);
    presents.push(castTo(b, presentKey, cacheDtype), castTo(b, presentValue, cacheDtype));
    if (cache.appendOnly) {
      const split = (t: Tensor) => g.reshape(castTo(b, t, cacheDtype), [0, 0, kvHeads, headDim]); // (batch, seq, kvHeads, headDim)
      const order = cache.timeMajor ? [1, 0, 2, 3] : [0, 2, 1, 3]; // (seq, batch, ·) or (batch, kvHeads, seq, ·)
      newEntries.push(g.transpose(split(rotatedKey), order), g.transpose(split(vProj), order));
    }
    return { output: linear(b, attention, `${p}.o_proj`, config.outputBias), presents, newEntries };
  }
  const q = g.transpose(g.reshape(qProj, [0, 0, heads, headDim]), [0, 2, 1, 3]); // (batch, heads, seq, headDim)
  const k = g.transpose(g.reshape(kProj, [0, 0, kvHeads, headDim]), [0, 2, 1, 3]); // (batch, kvHeads, seq, headDim)
  const vFull = g.transpose(g.reshape(vProj, [0, 0, kvHeads, headDim]), [0, 2, 1, 3]);
  // The new keys and values as the cache holds them: attention reads these, the same rounding
  // later steps see.
  const rotatedKey = castTo(b, rotary.apply(k), cacheDtype); // (batch, kvHeads, seq, headDim)
  const v = castTo(b, vFull, cacheDtype);
  if (cache.timeMajor)
    newEntries.push(g.transpose(rotatedKey, [2, 0, 1, 3]), g.transpose(v, [2, 0, 1, 3])); // (seq, batch, kvHeads, headDim)
  else if (cache.appendOnly) newEntries.push(rotatedKey, v); // (batch, kvHeads, seq, headDim)
  let context: Tensor; // (batch, heads, seq, headDim)
  // GQA without copying K/V: queries grouped (batch, kvHeads, group, seq, headDim) against
  // keys (batch, kvHeads, 1, ·, headDim), batch dims broadcast in MatMul.
  const q5 = g.reshape(g.mul(rotary.apply(q), mask.scale), [0, kvHeads, group, -1, headDim]);
  const q5T = castTo(b, g.transpose(q5, [0, 1, 2, 4, 3]), compute); // (batch, kvHeads, group, headDim, seq)
  // (K·qᵀ)ᵀ rather than q·Kᵀ: transposing the few query rows is cheap, while ORT would fold a
  // transpose of K with the time-major cache's into one slow element-wise transpose of the
  // whole cache every step (28 ms of a 52 ms layer at past 1024, batch 8).
  // In the compute dtype; the scores come back in `dtype`, where the mask and softmax run.
  const scoresOf = (keys: Tensor) => computeMatmul(b, g.unsqueeze(keys, [2]), q5T); // (batch, kvHeads, group, ·, seq)
  if (cache.appendOnly && pastKey !== null && pastValue !== null) {
    // Append-only layouts: attend to the past and the new entries separately, so the cache
    // is never concatenated (the runner stores the new entries itself).
    const scoresT = g.concat([scoresOf(pastKey), scoresOf(rotatedKey)], 3); // (batch, kvHeads, group, total, seq)
    const probs = g.softmax(g.where(mask.visible5, g.transpose(scoresT, [0, 1, 2, 4, 3]), mask.masked), -1);
    const pastLength = g.sub(g.shapeOf(shared.attentionMask, 1, 2), g.shapeOf(shared.inputIds, 1, 2)); // [past]
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
    const fromPast = computeMatmul(b, probsPast, g.unsqueeze(pastValue, [2]));
    const fromNew = computeMatmul(b, probsNew, g.unsqueeze(v, [2]));
    context = g.reshape(g.add(fromPast, fromNew), [0, heads, -1, headDim]);
  } else {
    let keys = rotatedKey;
    let values = v;
    if (pastKey !== null && pastValue !== null) {
      keys = g.concat([pastKey, keys], 2); // (batch, kvHeads, total, headDim)
      values = g.concat([pastValue, values], 2);
    }
    if (cache.emitPresents) presents.push(keys, values);
    const scores = g.transpose(scoresOf(keys), [0, 1, 2, 4, 3]); // (batch, kvHeads, group, seq, total)
    const probs = g.softmax(g.where(mask.visible5, scores, mask.masked), -1);
    context = g.reshape(computeMatmul(b, probs, g.unsqueeze(values, [2])), [0, heads, -1, headDim]);
  }
  const merged = g.reshape(g.transpose(context, [0, 2, 1, 3]), [0, 0, heads * headDim]); // (batch, seq, heads·headDim)
  return { output: linear(b, merged, `${p}.o_proj`, config.outputBias), presents, newEntries };
}
