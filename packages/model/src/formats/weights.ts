// The tensors a qwen2/llama decoder must have, checked against a WeightMap, and seeded random
// initialisation of any config (normal(0, 0.02) like HF's `initializer_range`, ones for norms).

import type { Rng } from '@sr1/core';
import { formatShape } from '@sr1/graph';
import type { DecoderConfig, HostTensor, WeightMap } from '../engine-types.js';
import { WeightShapeError } from '../errors.js';

/** HF's default `initializer_range`: the std of linear and embedding weights at init. */
export const INITIALIZER_RANGE = 0.02;

/** What kind of parameter a tensor is; decides its initial values. */
export type WeightRole = 'linear' | 'embedding' | 'norm' | 'bias';

export interface WeightSpec {
  shape: number[];
  role: WeightRole;
}

/**
 * Every tensor the config needs, by HF name, in model order. Linear weights are (out, in).
 */
export function expectedWeights(config: DecoderConfig): Map<string, WeightSpec> {
  const {
    hiddenSize: h,
    intermediateSize: ff,
    headDim: d,
    numAttentionHeads: nh,
    numKeyValueHeads: nkv,
  } = config;
  const specs = new Map<string, WeightSpec>();
  specs.set('model.embed_tokens.weight', { shape: [config.vocabSize, h], role: 'embedding' });
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    specs.set(`${p}.input_layernorm.weight`, { shape: [h], role: 'norm' });
    const projections: [string, number, number, boolean][] = [
      ['q_proj', nh * d, h, config.attentionBias],
      ['k_proj', nkv * d, h, config.attentionBias],
      ['v_proj', nkv * d, h, config.attentionBias],
      ['o_proj', h, nh * d, config.outputBias],
    ];
    for (const [name, out, inp, bias] of projections) {
      specs.set(`${p}.self_attn.${name}.weight`, { shape: [out, inp], role: 'linear' });
      if (bias) specs.set(`${p}.self_attn.${name}.bias`, { shape: [out], role: 'bias' });
    }
    specs.set(`${p}.post_attention_layernorm.weight`, { shape: [h], role: 'norm' });
    const mlp: [string, number, number][] = [
      ['gate_proj', ff, h],
      ['up_proj', ff, h],
      ['down_proj', h, ff],
    ];
    for (const [name, out, inp] of mlp) {
      specs.set(`${p}.mlp.${name}.weight`, { shape: [out, inp], role: 'linear' });
      if (config.mlpBias) specs.set(`${p}.mlp.${name}.bias`, { shape: [out], role: 'bias' });
    }
  }
  specs.set('model.norm.weight', { shape: [h], role: 'norm' });
  if (!config.tieWordEmbeddings)
    specs.set('lm_head.weight', { shape: [config.vocabSize, h], role: 'linear' });
  return specs;
}

/** Tensors some checkpoints carry that the model recomputes or ignores. */
const IGNORABLE = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/**
 * Checks that every expected tensor exists with the expected shape and that nothing unknown is
 * left over. Returns the map without ignorable extras (RoPE `inv_freq`; a tied model's redundant
 * `lm_head.weight` when it equals the embedding's shape).
 * @param source - a file name per tensor (or one file for all) for the error messages
 */
export function validateWeights(
  weights: WeightMap,
  config: DecoderConfig,
  source: string | ((tensor: string) => string) = 'weights',
): WeightMap {
  const fileOf = typeof source === 'string' ? () => source : source;
  const specs = expectedWeights(config);
  for (const [name, spec] of specs) {
    const tensor = weights.get(name);
    if (tensor === undefined) {
      throw new WeightShapeError(
        fileOf(name),
        name,
        `missing tensor; expected shape ${formatShape(spec.shape)}`,
      );
    }
    if (!sameShape(tensor.shape, spec.shape)) {
      throw new WeightShapeError(
        fileOf(name),
        name,
        `shape ${formatShape(tensor.shape)} does not match the config's ${formatShape(spec.shape)}`,
      );
    }
    if (tensor.data.length !== spec.shape.reduce((a, b) => a * b, 1)) {
      throw new WeightShapeError(
        fileOf(name),
        name,
        `holds ${tensor.data.length} values for shape ${formatShape(spec.shape)}`,
      );
    }
  }
  const kept: WeightMap = new Map();
  for (const [name, tensor] of weights) {
    if (specs.has(name)) {
      kept.set(name, tensor);
    } else if (IGNORABLE.test(name) || (name === 'lm_head.weight' && config.tieWordEmbeddings)) {
      // recomputed (inv_freq) or redundant (tied lm_head): safe to drop
    } else {
      throw new WeightShapeError(fileOf(name), name, 'unexpected tensor for this config');
    }
  }
  return kept;
}

/**
 * Fresh weights for a config: linear and embedding weights ~ normal(0, 0.02) (HF
 * `initializer_range`), RMSNorm weights 1, biases 0. Same config + same seed → same weights.
 */
export function initWeights(config: DecoderConfig, rng: Rng, std = INITIALIZER_RANGE): WeightMap {
  const weights: WeightMap = new Map();
  for (const [name, spec] of expectedWeights(config)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    if (spec.role === 'norm') data.fill(1);
    else if (spec.role !== 'bias') for (let i = 0; i < count; i++) data[i] = rng.normal() * std;
    weights.set(name, { shape: [...spec.shape], data });
  }
  return weights;
}

/** Counts parameters (a tied lm_head counts once). */
/**
 * A deep copy with its own buffers, optionally without some weights. Trainable models update
 * their buffers in place, so a frozen model (the RL reference, a critic's trunk) needs a copy.
 */
export function cloneWeights(weights: WeightMap, skip: ReadonlySet<string> = new Set()): WeightMap {
  const copy: WeightMap = new Map();
  for (const [name, tensor] of weights) {
    if (!skip.has(name)) copy.set(name, { shape: [...tensor.shape], data: tensor.data.slice() });
  }
  return copy;
}

export function countParameters(weights: WeightMap): number {
  let total = 0;
  for (const tensor of weights.values()) total += tensor.data.length;
  return total;
}

/** The lm_head matrix (vocab, hidden): `lm_head.weight`, or the embedding when tied. */
export function lmHeadWeight(weights: WeightMap, config: DecoderConfig): HostTensor {
  const name = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  const tensor = weights.get(name);
  if (tensor === undefined) throw new WeightShapeError('weights', name, 'missing tensor');
  return tensor;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((value, index) => value === b[index]);
}
