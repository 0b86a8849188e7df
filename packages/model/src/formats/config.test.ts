import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MissingFileError, ModelConfigError } from '../errors.js';
import {
  checkDecoderFitsMemory,
  decoderConfigToHfJson,
  estimateDecoderMemory,
  loadDecoderConfig,
  parseDecoderConfig,
} from './config.js';

// Qwen2.5-0.5B-Instruct's config.json, verbatim fields that matter.
const qwen05b = {
  architectures: ['Qwen2ForCausalLM'],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  initializer_range: 0.02,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

describe('parseDecoderConfig', () => {
  it('normalises a Qwen2.5 config (GQA, q/k/v bias, tied embeddings)', () => {
    const config = parseDecoderConfig(qwen05b);
    expect(config).toMatchObject({
      modelType: 'qwen2',
      headDim: 64,
      numKeyValueHeads: 2,
      attentionBias: true,
      outputBias: false,
      mlpBias: false,
      tieWordEmbeddings: true,
      ropeTheta: 1e6,
      bosTokenId: 151643,
      eosTokenIds: [151645],
    });
  });

  it('reads llama attention_bias, mlp_bias, explicit head_dim and an eos list', () => {
    const config = parseDecoderConfig({
      model_type: 'llama',
      vocab_size: 100,
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      head_dim: 16,
      attention_bias: true,
      mlp_bias: true,
      eos_token_id: [1, 2],
    });
    expect(config).toMatchObject({
      headDim: 16,
      numKeyValueHeads: 4,
      attentionBias: true,
      outputBias: true,
      mlpBias: true,
      tieWordEmbeddings: false,
      ropeTheta: 10000,
      rmsNormEps: 1e-6,
      bosTokenId: null,
      eosTokenIds: [1, 2],
    });
  });

  it('merges generation_config eos ids first', () => {
    const config = parseDecoderConfig(qwen05b, { generationConfig: { eos_token_id: [151645, 151643] } });
    expect(config.eosTokenIds).toEqual([151645, 151643]);
  });

  it('rejects an unknown model_type naming file and field and the supported ones', () => {
    expect(() => parseDecoderConfig({ ...qwen05b, model_type: 'gpt2' }, { file: 'm/config.json' })).toThrow(
      'm/config.json: field \'model_type\': unsupported model_type "gpt2". Supported: [qwen2, llama]',
    );
  });

  it('rejects bad GQA, missing sizes, bad eos and rope scaling with typed errors', () => {
    const bad = (patch: Record<string, unknown>, field: string) => {
      let caught: unknown;
      try {
        parseDecoderConfig({ ...qwen05b, ...patch });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ModelConfigError);
      expect((caught as ModelConfigError).field).toBe(field);
    };
    bad({ num_key_value_heads: 3 }, 'num_key_value_heads');
    bad({ hidden_size: undefined }, 'hidden_size');
    bad({ eos_token_id: [151645, 999999] }, 'eos_token_id[1]');
    bad({ rope_scaling: { type: 'yarn', factor: 4 } }, 'rope_scaling');
    bad({ hidden_act: 'gelu' }, 'hidden_act');
    bad({ tie_word_embeddings: 'yes' }, 'tie_word_embeddings');
  });

  it('round-trips through the HF JSON it writes', () => {
    const config = parseDecoderConfig(qwen05b);
    expect(parseDecoderConfig(decoderConfigToHfJson(config))).toEqual(config);
    const llama = parseDecoderConfig({ ...qwen05b, model_type: 'llama', attention_bias: true });
    expect(parseDecoderConfig(decoderConfigToHfJson(llama))).toEqual(llama);
  });
});

describe('loadDecoderConfig', () => {
  it('reads config.json and generation_config.json from a folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-config-'));
    await writeFile(join(dir, 'config.json'), JSON.stringify(qwen05b));
    await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [151645, 151643] }));
    expect((await loadDecoderConfig(dir)).eosTokenIds).toEqual([151645, 151643]);
  });

  it('names the missing or broken file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-config-'));
    await expect(loadDecoderConfig(dir)).rejects.toBeInstanceOf(MissingFileError);
    await expect(loadDecoderConfig(dir)).rejects.toThrow(join(dir, 'config.json'));
    await writeFile(join(dir, 'config.json'), '{"model_type": ');
    await expect(loadDecoderConfig(dir)).rejects.toThrow(/config\.json: field '\(root\)': invalid JSON/);
  });
});

describe('config sizes against memory', () => {
  const GB = 1024 ** 3;

  it('counts parameters exactly as the weights the config implies', async () => {
    const { countParameters, initWeights } = await import('./weights.js');
    const { createRng } = await import('@sr1/core');
    for (const json of [
      qwen05b,
      { ...qwen05b, tie_word_embeddings: false },
      {
        model_type: 'llama',
        vocab_size: 1000,
        hidden_size: 64,
        intermediate_size: 96,
        num_hidden_layers: 3,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        head_dim: 32,
        attention_bias: true,
        mlp_bias: true,
      },
    ]) {
      const config = parseDecoderConfig(json);
      // its bias and tying flags, at sizes small enough to allocate here
      const small = {
        ...config,
        vocabSize: 300,
        hiddenSize: 32,
        intermediateSize: 48,
        numHiddenLayers: 2,
        numAttentionHeads: 4,
        numKeyValueHeads: 2,
        headDim: 16, // ≠ hidden / heads, as llama allows
      };
      expect(estimateDecoderMemory(small).parameters).toBe(countParameters(initWeights(small, createRng(1))));
    }
  });

  it('refuses num_hidden_layers 1e9 at once, naming the field, before anything is allocated', () => {
    expect(() => parseDecoderConfig({ ...qwen05b, num_hidden_layers: 1e9 }, { file: 'c.json' })).toThrow(
      /c\.json: field 'num_hidden_layers': .*weights need .*memory/,
    );
  });

  it('names the field that makes the weights or the KV cache outgrow memory, or a tensor outgrow a typed array', () => {
    const memory = { totalBytes: 16 * GB, freeBytes: 8 * GB };
    // Qwen2.5-0.5B: 1.8 GiB of float32 weights, 0.75 GiB of KV cache per 32k-token sequence
    expect(() => parseDecoderConfig(qwen05b, { memory })).not.toThrow();
    const wide = () => parseDecoderConfig({ ...qwen05b, vocab_size: 5_000_000 }, { memory });
    expect(wide).toThrow(ModelConfigError);
    expect(wide).toThrow(/field 'vocab_size': .*embed_tokens.*typed array/);
    // 12 GiB of weights: possible on this machine, not with 8 GiB free
    const wideMlp = parseDecoderConfig({ ...qwen05b, intermediate_size: 44_000 }, { memory });
    expect(() => checkDecoderFitsMemory(wideMlp, 'c.json', memory, 'free')).toThrow(
      /field 'num_hidden_layers': the weights need 1\d\.\d GiB .*intermediate_size 44000.* 8\.0 GiB free of .* 16\.0 GiB/,
    );
    expect(() => parseDecoderConfig({ ...qwen05b, intermediate_size: 80_000 }, { memory })).toThrow(
      /field 'num_hidden_layers': the weights need 19\.9 GiB .*5\.34B parameters.* more than this machine's 16\.0 GiB/,
    );
    expect(() =>
      parseDecoderConfig({ ...qwen05b, max_position_embeddings: 1_000_000_000 }, { memory }),
    ).toThrow(/field 'max_position_embeddings': .*KV cache.* 16\.0 GiB/);
  });
});
