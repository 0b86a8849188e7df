import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { WeightShapeError } from '../errors.js';
import { tinyLlama, tinyQwen2 } from '../testing/index.js';
import { cloneWeights, countParameters, expectedWeights, initWeights, validateWeights } from './weights.js';

describe('expectedWeights', () => {
  it('lists the HF tensors with (out, in) shapes, biases by architecture', () => {
    const qwen = expectedWeights(tinyQwen2());
    expect(qwen.get('model.embed_tokens.weight')?.shape).toEqual([64, 16]);
    expect(qwen.get('model.layers.1.self_attn.q_proj.weight')?.shape).toEqual([16, 16]);
    expect(qwen.get('model.layers.1.self_attn.k_proj.weight')?.shape).toEqual([8, 16]);
    expect(qwen.get('model.layers.1.self_attn.k_proj.bias')?.shape).toEqual([8]);
    expect(qwen.has('model.layers.1.self_attn.o_proj.bias')).toBe(false);
    expect(qwen.get('model.layers.0.mlp.down_proj.weight')?.shape).toEqual([16, 24]);
    expect(qwen.has('lm_head.weight')).toBe(false);
    expect(qwen.size).toBe(1 + 2 * (2 + 4 + 3 + 3) + 1);

    const llama = expectedWeights(tinyLlama());
    // head_dim 8 ≠ hidden/heads: q is (heads*8, hidden), o is (hidden, heads*8)
    expect(llama.get('model.layers.0.self_attn.q_proj.weight')?.shape).toEqual([32, 16]);
    expect(llama.get('model.layers.0.self_attn.o_proj.weight')?.shape).toEqual([16, 32]);
    expect(llama.get('model.layers.0.self_attn.o_proj.bias')?.shape).toEqual([16]);
    expect(llama.get('model.layers.0.mlp.up_proj.bias')?.shape).toEqual([24]);
    expect(llama.get('lm_head.weight')?.shape).toEqual([64, 16]);
  });
});

describe('initWeights', () => {
  it('is seeded: normal(0, 0.02) matrices, ones for norms, zeros for biases', () => {
    const config = tinyQwen2(512);
    const a = initWeights(config, createRng(7));
    const b = initWeights(config, createRng(7));
    const c = initWeights(config, createRng(8));
    expect(a).toEqual(b);
    expect(a.get('model.embed_tokens.weight')!.data).not.toEqual(c.get('model.embed_tokens.weight')!.data);
    const embedding = a.get('model.embed_tokens.weight')!.data;
    let sum = 0;
    let squares = 0;
    for (const x of embedding) {
      sum += x;
      squares += x * x;
    }
    const mean = sum / embedding.length;
    const std = Math.sqrt(squares / embedding.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.019);
    expect(std).toBeLessThan(0.021);
    expect([...a.get('model.norm.weight')!.data].every((x) => x === 1)).toBe(true);
    expect([...a.get('model.layers.0.self_attn.q_proj.bias')!.data].every((x) => x === 0)).toBe(true);
    expect(validateWeights(a, config).size).toBe(a.size);
    expect(countParameters(a)).toBe(
      512 * 16 + 2 * (16 * 16 + 2 * 8 * 16 + 16 * 16 + 16 + 2 * 8 + 3 * 16 * 24 + 2 * 16) + 16,
    );
  });
});

describe('validateWeights', () => {
  it('names the tensor that is missing, misshapen or unexpected', () => {
    const config = tinyLlama();
    const weights = initWeights(config, createRng(1));
    const missing = new Map(weights);
    missing.delete('model.layers.1.mlp.gate_proj.bias');
    expect(() => validateWeights(missing, config, 'm.safetensors')).toThrow(
      "m.safetensors: field 'model.layers.1.mlp.gate_proj.bias': missing tensor; expected shape (24)",
    );
    const wrong = new Map(weights);
    wrong.set('model.norm.weight', { shape: [17], data: new Float32Array(17) });
    expect(() => validateWeights(wrong, config)).toThrow(WeightShapeError);
    expect(() => validateWeights(wrong, config)).toThrow(
      /'model.norm.weight': shape \(17\) does not match the config's \(16\)/,
    );
    const extra = new Map(weights);
    extra.set('model.layers.9.foo', { shape: [1], data: new Float32Array(1) });
    expect(() => validateWeights(extra, config)).toThrow(/'model.layers.9.foo': unexpected tensor/);
    const ignorable = new Map(weights);
    ignorable.set('model.layers.0.self_attn.rotary_emb.inv_freq', { shape: [4], data: new Float32Array(4) });
    expect(validateWeights(ignorable, config).size).toBe(weights.size);
  });
});

describe('cloneWeights', () => {
  it('copies every buffer (writes to the copy leave the original alone) and skips the named weights', () => {
    const weights = initWeights(tinyQwen2(), createRng(4));
    const copy = cloneWeights(weights, new Set(['model.norm.weight']));
    expect([...copy.keys()]).toEqual([...weights.keys()].filter((name) => name !== 'model.norm.weight'));
    const name = 'model.embed_tokens.weight';
    expect(copy.get(name)!.data).toEqual(weights.get(name)!.data);
    const before = weights.get(name)!.data[0];
    copy.get(name)!.data[0] = before! + 1;
    expect(weights.get(name)!.data[0]).toBe(before);
  });
});
