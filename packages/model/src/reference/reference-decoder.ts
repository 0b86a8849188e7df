// A plain-TypeScript float64 Qwen2/Llama forward pass: slow, obvious loops, no cache. It is the
// oracle the compiled ONNX graphs are tested against (logits, log-probs), written from the
// architecture's definition rather than from the graph code so the two can disagree.

import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError, EngineInvariantError, WeightShapeError } from '../errors.js';

/** One sequence's forward result: logits (T, vocab) in float64. */
export interface ReferenceForward {
  logits: Float64Array;
  length: number;
  vocabSize: number;
}

/**
 * Runs the decoder over one unpadded sequence with positions 0..T-1 and a causal mask.
 *
 * @param config - the decoder's hyper-parameters
 * @param weights - HF-named float32 weights (linear weights (out, in))
 * @param tokens - token ids, length T ≥ 1
 */
export function referenceForward(
  config: DecoderConfig,
  weights: WeightMap,
  tokens: readonly number[],
): ReferenceForward {
  const T = tokens.length;
  const H = config.hiddenSize;
  const nH = config.numAttentionHeads;
  const nKV = config.numKeyValueHeads;
  const hd = config.headDim;
  const group = nH / nKV;
  if (T === 0) throw new DecoderInputError('tokens', 'referenceForward needs at least one token');
  const w = (name: string): Float32Array => {
    const tensor = weights.get(name);
    if (tensor === undefined)
      throw new WeightShapeError(undefined, name, `reference forward: missing weight ${name}`);
    return tensor.data;
  };
  const maybe = (name: string): Float32Array | undefined => weights.get(name)?.data;

  // Embedding lookup.
  const embed = w('model.embed_tokens.weight'); // (vocab, H)
  const h = new Float64Array(T * H); // (T, H)
  for (let t = 0; t < T; t++) {
    const id = tokens[t]!;
    if (id < 0 || id >= config.vocabSize)
      throw new DecoderInputError('tokens', `token id ${id} outside vocabulary ${config.vocabSize}`);
    for (let i = 0; i < H; i++) h[t * H + i] = embed[id * H + i]!;
  }

  // Rotary tables: inv_freq[i] = theta^(-2i/hd); cos/sin repeated over both halves (HF rotate_half).
  const half = hd / 2;
  const cos = new Float64Array(T * hd);
  const sin = new Float64Array(T * hd);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t * config.ropeTheta ** (-(2 * i) / hd);
      cos[t * hd + i] = cos[t * hd + i + half] = Math.cos(angle);
      sin[t * hd + i] = sin[t * hd + i + half] = Math.sin(angle);
    }
  }
  const rotate = (x: Float64Array, heads: number): void => {
    // x: (T, heads, hd), rotated in place: x*cos + rotate_half(x)*sin, rotate_half = [-x2, x1].
    const tmp = new Float64Array(hd);
    for (let t = 0; t < T; t++) {
      for (let head = 0; head < heads; head++) {
        const base = (t * heads + head) * hd;
        for (let i = 0; i < hd; i++) {
          const rotated = i < half ? -x[base + i + half]! : x[base + i - half]!;
          tmp[i] = x[base + i]! * cos[t * hd + i]! + rotated * sin[t * hd + i]!;
        }
        for (let i = 0; i < hd; i++) x[base + i] = tmp[i]!;
      }
    }
  };

  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const prefix = `model.layers.${layer}.`;
    const x = rmsNorm(h, T, H, w(`${prefix}input_layernorm.weight`), config.rmsNormEps);
    const q = linear(
      x,
      T,
      H,
      w(`${prefix}self_attn.q_proj.weight`),
      nH * hd,
      maybe(`${prefix}self_attn.q_proj.bias`),
    );
    const k = linear(
      x,
      T,
      H,
      w(`${prefix}self_attn.k_proj.weight`),
      nKV * hd,
      maybe(`${prefix}self_attn.k_proj.bias`),
    );
    const v = linear(
      x,
      T,
      H,
      w(`${prefix}self_attn.v_proj.weight`),
      nKV * hd,
      maybe(`${prefix}self_attn.v_proj.bias`),
    );
    rotate(q, nH);
    rotate(k, nKV);
    const attended = new Float64Array(T * nH * hd); // (T, nH, hd)
    const scale = 1 / Math.sqrt(hd);
    const scores = new Float64Array(T);
    for (let head = 0; head < nH; head++) {
      const kvHead = Math.floor(head / group);
      for (let t = 0; t < T; t++) {
        let max = Number.NEGATIVE_INFINITY;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += q[(t * nH + head) * hd + i]! * k[(s * nKV + kvHead) * hd + i]!;
          scores[s] = dot * scale;
          if (scores[s]! > max) max = scores[s]!;
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) {
          scores[s] = Math.exp(scores[s]! - max);
          sum += scores[s]!;
        }
        for (let s = 0; s <= t; s++) {
          const p = scores[s]! / sum;
          for (let i = 0; i < hd; i++)
            attended[(t * nH + head) * hd + i]! += p * v[(s * nKV + kvHead) * hd + i]!;
        }
      }
    }
    const o = linear(
      attended,
      T,
      nH * hd,
      w(`${prefix}self_attn.o_proj.weight`),
      H,
      maybe(`${prefix}self_attn.o_proj.bias`),
    );
    for (let i = 0; i < T * H; i++) h[i]! += o[i]!;

    const y = rmsNorm(h, T, H, w(`${prefix}post_attention_layernorm.weight`), config.rmsNormEps);
    const I = config.intermediateSize;
    const gate = linear(y, T, H, w(`${prefix}mlp.gate_proj.weight`), I, maybe(`${prefix}mlp.gate_proj.bias`));
    const up = linear(y, T, H, w(`${prefix}mlp.up_proj.weight`), I, maybe(`${prefix}mlp.up_proj.bias`));
    for (let i = 0; i < T * I; i++) {
      const g = gate[i]!;
      gate[i] = (g / (1 + Math.exp(-g))) * up[i]!; // SiLU(gate) * up
    }
    const down = linear(
      gate,
      T,
      I,
      w(`${prefix}mlp.down_proj.weight`),
      H,
      maybe(`${prefix}mlp.down_proj.bias`),
    );
    for (let i = 0; i < T * H; i++) h[i]! += down[i]!;
  }

  const final = rmsNorm(h, T, H, w('model.norm.weight'), config.rmsNormEps);
  const head = config.tieWordEmbeddings ? embed : w('lm_head.weight'); // (vocab, H)
  const logits = linear(final, T, H, head, config.vocabSize, undefined);
  return { logits, length: T, vocabSize: config.vocabSize };
}

/**
 * log P(tokens[i] | tokens[<i]) for i ≥ 1 (index 0 has no prediction and is NaN), and the
 * entropy of each next-token distribution (position i predicts token i+1).
 */
export function referenceLogProbs(
  config: DecoderConfig,
  weights: WeightMap,
  tokens: readonly number[],
): { logprobs: Float64Array; entropies: Float64Array } {
  const { logits, vocabSize: V } = referenceForward(config, weights, tokens);
  const T = tokens.length;
  const logprobs = new Float64Array(T).fill(Number.NaN);
  const entropies = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let max = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < V; j++) max = Math.max(max, logits[t * V + j]!);
    let sum = 0;
    for (let j = 0; j < V; j++) sum += Math.exp(logits[t * V + j]! - max);
    const logZ = max + Math.log(sum);
    let entropy = 0;
    for (let j = 0; j < V; j++) {
      const logp = logits[t * V + j]! - logZ;
      entropy -= Math.exp(logp) * logp;
    }
    entropies[t] = entropy;
    if (t + 1 < T) logprobs[t + 1] = logits[t * V + tokens[t + 1]!]! - logZ;
  }
  return { logprobs, entropies };
}

function rmsNorm(x: Float64Array, T: number, H: number, weight: Float32Array, eps: number): Float64Array {
  const out = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let sumSq = 0;
    for (let i = 0; i < H; i++) sumSq += x[t * H + i]! ** 2;
    const inv = 1 / Math.sqrt(sumSq / H + eps);
    for (let i = 0; i < H; i++) out[t * H + i] = x[t * H + i]! * inv * weight[i]!;
  }
  return out;
}

/** y = x Wᵀ + b with x (T, inFeatures), W (outFeatures, inFeatures) as HF stores it. */
function linear(
  x: Float64Array,
  T: number,
  inFeatures: number,
  weight: Float32Array,
  outFeatures: number,
  bias: Float32Array | undefined,
): Float64Array {
  if (weight.length !== inFeatures * outFeatures) {
    throw new EngineInvariantError(
      `linear: weight has ${weight.length} values, expected ${outFeatures}×${inFeatures}`,
    );
  }
  const y = new Float64Array(T * outFeatures);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outFeatures; o++) {
      let acc = bias === undefined ? 0 : bias[o]!;
      for (let i = 0; i < inFeatures; i++) acc += x[t * inFeatures + i]! * weight[o * inFeatures + i]!;
      y[t * outFeatures + o] = acc;
    }
  }
  return y;
}
