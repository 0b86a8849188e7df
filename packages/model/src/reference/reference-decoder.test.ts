import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError, WeightShapeError } from '../errors.js';
import { tinyQwen2 } from '../testing/index.js';
import { referenceForward, referenceLogProbs } from './reference-decoder.js';

// Smaller than the shared tiny qwen2: the reference is plain JS loops over every weight.
const CONFIG: DecoderConfig = {
  ...tinyQwen2(17),
  hiddenSize: 8,
  intermediateSize: 12,
  headDim: 2,
  maxPositionEmbeddings: 64,
};

function randomWeights(config: DecoderConfig, seed: number): WeightMap {
  const rng = createRng(seed);
  const weights: WeightMap = new Map();
  const add = (name: string, shape: number[], scale = 0.5): void => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() * scale;
    weights.set(name, { shape, data });
  };
  const { hiddenSize: H, headDim: hd, intermediateSize: I } = config;
  add('model.embed_tokens.weight', [config.vocabSize, H]);
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [H]);
    add(`${p}post_attention_layernorm.weight`, [H]);
    add(`${p}self_attn.q_proj.weight`, [config.numAttentionHeads * hd, H]);
    add(`${p}self_attn.q_proj.bias`, [config.numAttentionHeads * hd]);
    add(`${p}self_attn.k_proj.weight`, [config.numKeyValueHeads * hd, H]);
    add(`${p}self_attn.k_proj.bias`, [config.numKeyValueHeads * hd]);
    add(`${p}self_attn.v_proj.weight`, [config.numKeyValueHeads * hd, H]);
    add(`${p}self_attn.v_proj.bias`, [config.numKeyValueHeads * hd]);
    add(`${p}self_attn.o_proj.weight`, [H, config.numAttentionHeads * hd]);
    add(`${p}mlp.gate_proj.weight`, [I, H]);
    add(`${p}mlp.up_proj.weight`, [I, H]);
    add(`${p}mlp.down_proj.weight`, [H, I]);
  }
  add('model.norm.weight', [H]);
  return weights;
}

describe('referenceForward', () => {
  const weights = randomWeights(CONFIG, 1);

  it('is causal: appending tokens leaves earlier logits unchanged', () => {
    const short = referenceForward(CONFIG, weights, [3, 5, 7]);
    const long = referenceForward(CONFIG, weights, [3, 5, 7, 1, 2]);
    const V = CONFIG.vocabSize;
    for (let i = 0; i < 3 * V; i++) expect(long.logits[i]).toBeCloseTo(short.logits[i]!, 12);
    expect(Math.abs(long.logits[4 * V]! - long.logits[3 * V]!)).toBeGreaterThan(0);
  });

  it('depends on token order through the rotary positions', () => {
    const a = referenceForward(CONFIG, weights, [3, 5]);
    const b = referenceForward(CONFIG, weights, [5, 3]);
    const V = CONFIG.vocabSize;
    // The last position sees the same multiset of tokens; only positions differ.
    let diff = 0;
    for (let j = 0; j < V; j++) diff += Math.abs(a.logits[V + j]! - b.logits[V + j]!);
    expect(diff).toBeGreaterThan(1e-6);
  });

  it('gives normalised log-probs and bounded entropies', () => {
    const tokens = [1, 4, 9, 16];
    const { logprobs, entropies } = referenceLogProbs(CONFIG, weights, tokens);
    expect(Number.isNaN(logprobs[0]!)).toBe(true);
    const { logits } = referenceForward(CONFIG, weights, tokens);
    const V = CONFIG.vocabSize;
    for (let t = 1; t < tokens.length; t++) {
      expect(logprobs[t]!).toBeLessThan(0);
      let sum = 0;
      for (let j = 0; j < V; j++)
        sum += Math.exp(logits[(t - 1) * V + j]! - logits[(t - 1) * V + tokens[t]!]! + logprobs[t]!);
      expect(sum).toBeCloseTo(1, 10);
    }
    for (const entropy of entropies) {
      expect(entropy).toBeGreaterThan(0);
      expect(entropy).toBeLessThanOrEqual(Math.log(V) + 1e-12);
    }
  });

  it('rejects out-of-vocabulary ids and missing weights', () => {
    expect(() => referenceForward(CONFIG, weights, [17])).toThrow('outside vocabulary');
    expect(() => referenceForward(CONFIG, weights, [17])).toThrow(DecoderInputError);
    const broken = new Map(weights);
    broken.delete('model.norm.weight');
    expect(() => referenceForward(CONFIG, broken, [1])).toThrow('missing weight model.norm.weight');
    expect(() => referenceForward(CONFIG, broken, [1])).toThrow(WeightShapeError);
  });
});
