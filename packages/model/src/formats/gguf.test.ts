import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { SMALL_TOKENIZER, tinyQwen2 } from '../testing/index.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';
import { exportGguf, ggufTensorName, permuteForLlamaRope, readGguf } from './gguf.js';
import { loadModelFolder } from './model-folder.js';
import { initWeights } from './weights.js';

/** HF rotate-half RoPE on one head vector: pairs (i, i + d/2). */
function ropeHalf(q: Float64Array, position: number, theta: number): Float64Array {
  const d = q.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const angle = position * theta ** (-(2 * i) / d);
    out[i] = q[i]! * Math.cos(angle) - q[i + d / 2]! * Math.sin(angle);
    out[i + d / 2] = q[i + d / 2]! * Math.cos(angle) + q[i]! * Math.sin(angle);
  }
  return out;
}

/** llama.cpp's normal (interleaved) RoPE: pairs (2i, 2i + 1). */
function ropeInterleaved(q: Float64Array, position: number, theta: number): Float64Array {
  const d = q.length;
  const out = new Float64Array(d);
  for (let i = 0; i < d / 2; i++) {
    const angle = position * theta ** (-(2 * i) / d);
    out[2 * i] = q[2 * i]! * Math.cos(angle) - q[2 * i + 1]! * Math.sin(angle);
    out[2 * i + 1] = q[2 * i + 1]! * Math.cos(angle) + q[2 * i]! * Math.sin(angle);
  }
  return out;
}

describe('GGUF export', () => {
  it("the llama q/k permutation turns HF's rotate-half RoPE into llama.cpp's interleaved RoPE", () => {
    const rng = createRng(9);
    const heads = 3;
    const headDim = 8;
    const columns = 5;
    const weight = Float32Array.from({ length: heads * headDim * columns }, () => rng.normal());
    const x = Float64Array.from({ length: columns }, () => rng.normal());
    const permuted = permuteForLlamaRope(weight, heads, heads * headDim, columns);
    const project = (w: Float32Array, row: number) => {
      let acc = 0;
      for (let c = 0; c < columns; c++) acc += w[row * columns + c]! * x[c]!;
      return acc;
    };
    for (let h = 0; h < heads; h++) {
      const q = Float64Array.from({ length: headDim }, (_, i) => project(weight, h * headDim + i));
      const qPermuted = Float64Array.from({ length: headDim }, (_, i) => project(permuted, h * headDim + i));
      const hf = ropeHalf(q, 7, 10000);
      const cpp = ropeInterleaved(qPermuted, 7, 10000);
      // same rotated values, in llama.cpp's row order: cpp[2i + j] = hf[j * d/2 + i]
      for (let i = 0; i < headDim / 2; i++) {
        for (let j = 0; j < 2; j++) expect(cpp[2 * i + j]!).toBeCloseTo(hf[j * (headDim / 2) + i]!, 10);
      }
    }
  });

  it('maps HF names to GGUF names', () => {
    expect(ggufTensorName('model.embed_tokens.weight')).toBe('token_embd.weight');
    expect(ggufTensorName('model.layers.3.self_attn.q_proj.bias')).toBe('blk.3.attn_q.bias');
    expect(ggufTensorName('model.layers.0.self_attn.o_proj.weight')).toBe('blk.0.attn_output.weight');
    expect(ggufTensorName('model.layers.1.post_attention_layernorm.weight')).toBe('blk.1.ffn_norm.weight');
    expect(ggufTensorName('model.layers.1.mlp.down_proj.weight')).toBe('blk.1.ffn_down.weight');
    expect(ggufTensorName('lm_head.weight')).toBe('output.weight');
  });

  it('sr1-model export-gguf writes a v3 file with hparams, the BPE tokenizer and reversed-shape tensors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-gguf-'));
    for (const modelType of ['qwen2', 'llama'] as const) {
      const configFile = join(dir, `${modelType}.json`);
      await writeFile(
        configFile,
        JSON.stringify({
          model_type: modelType,
          hidden_size: 32,
          intermediate_size: 48,
          num_hidden_layers: 2,
          num_attention_heads: 4,
          num_key_value_heads: 2,
          rope_theta: 50000,
          tie_word_embeddings: modelType === 'qwen2',
        }),
      );
      const modelDir = join(dir, modelType);
      const out = join(dir, `${modelType}.gguf`);
      let stderr = '';
      const io = { stdout: () => {}, stderr: (t: string) => (stderr += t) };
      expect(
        await runCli(['init', '--config', configFile, '--tokenizer', SMALL_TOKENIZER, '--out', modelDir], io),
      ).toBe(0);
      expect(await runCli(['export-gguf', '--model', modelDir, '--out', out], io)).toBe(0);
      expect(stderr).toBe('');
      const gguf = await readGguf(out);
      const model = await loadModelFolder(modelDir);
      const tokenizer = await loadTokenizer(SMALL_TOKENIZER);
      expect(gguf.version).toBe(3);
      expect(gguf.metadata.get('general.architecture')).toBe(modelType);
      expect(gguf.metadata.get(`${modelType}.block_count`)).toBe(2);
      expect(gguf.metadata.get(`${modelType}.attention.head_count_kv`)).toBe(2);
      expect(gguf.metadata.get(`${modelType}.rope.freq_base`)).toBe(50000);
      expect(gguf.metadata.get(`${modelType}.attention.layer_norm_rms_epsilon`)).toBeCloseTo(1e-6, 12);
      expect(gguf.metadata.get('tokenizer.ggml.model')).toBe('gpt2');
      expect(gguf.metadata.get('tokenizer.ggml.pre')).toBe('qwen2');
      const tokens = gguf.metadata.get('tokenizer.ggml.tokens') as string[];
      expect(tokens).toHaveLength(2048);
      expect(tokens[tokenizer.eosTokenIds[0]!]).toBe('<|im_end|>');
      expect((gguf.metadata.get('tokenizer.ggml.token_type') as number[])[tokenizer.eosTokenIds[0]!]).toBe(3);
      expect((gguf.metadata.get('tokenizer.ggml.merges') as string[]).length).toBe(1789);
      expect(gguf.metadata.get('tokenizer.ggml.eos_token_id')).toBe(tokenizer.eosTokenIds[0]);
      expect(gguf.tensors.size).toBe(model.weights.size);
      expect(gguf.tensors.has('output.weight')).toBe(modelType === 'llama');
      const embedding = gguf.tensors.get('token_embd.weight')!;
      expect(embedding.shape).toEqual([2048, 32]);
      expect(embedding.data).toEqual(model.weights.get('model.embed_tokens.weight')!.data);
      const k = gguf.tensors.get('blk.1.attn_k.weight')!;
      const hfK = model.weights.get('model.layers.1.self_attn.k_proj.weight')!;
      expect(k.shape).toEqual([16, 32]);
      if (modelType === 'qwen2') expect(k.data).toEqual(hfK.data);
      else expect(k.data).toEqual(permuteForLlamaRope(hfK.data, 2, 16, 32));
    }
  });

  it("refuses a qwen2 whose head_dim × heads ≠ hidden (llama.cpp's qwen2 cannot load it)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-gguf-'));
    const config = { ...tinyQwen2(2048), headDim: 8 };
    const model = { config, weights: initWeights(config, createRng(1)) };
    await expect(exportGguf(join(dir, 'x.gguf'), model, SMALL_TOKENIZER)).rejects.toThrow(
      "config.json: field 'head_dim': llama.cpp's qwen2 needs",
    );
  });
});
