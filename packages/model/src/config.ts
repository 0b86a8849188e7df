// Reads an HF `config.json` (+ `generation_config.json`) of a qwen2 or llama decoder into the
// normalised DecoderConfig, validating every field, and writes a DecoderConfig back as HF JSON.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DecoderConfig } from './engine-types.js';
import { MissingFileError, ModelConfigError } from './errors.js';

/** The `model_type` values sr1 can run; both are pre-norm SwiGLU decoders with RoPE and RMSNorm. */
export const SUPPORTED_MODEL_TYPES = ['qwen2', 'llama'] as const;

/** Where the parsed JSON came from, for error messages. */
export interface ParseConfigOptions {
  /** Path shown in errors for `config.json`. */
  file?: string;
  /** The parsed `generation_config.json`, when the folder has one (its eos/bos ids win). */
  generationConfig?: unknown;
  /** Path shown in errors for `generation_config.json`. */
  generationConfigFile?: string;
}

type Json = Record<string, unknown>;

/**
 * Normalises a parsed HF `config.json` into a DecoderConfig. Defaults follow transformers'
 * `Qwen2Config` / `LlamaConfig`; unsupported features (rope scaling, non-SiLU activations,
 * sliding-window attention) are rejected rather than silently computed wrong.
 */
export function parseDecoderConfig(json: unknown, options: ParseConfigOptions = {}): DecoderConfig {
  const file = options.file ?? 'config.json';
  if (!isObject(json)) throw new ModelConfigError(file, '(root)', 'expected a JSON object');
  const modelType = json.model_type;
  if (modelType !== 'qwen2' && modelType !== 'llama') {
    throw new ModelConfigError(
      file,
      'model_type',
      `unsupported model_type ${JSON.stringify(modelType)}. Supported: [${SUPPORTED_MODEL_TYPES.join(', ')}]`,
    );
  }
  const positive = (field: string, fallback?: number): number => {
    const value = json[field] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new ModelConfigError(file, field, `expected a positive integer, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const positiveNumber = (field: string, value: unknown): number => {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ModelConfigError(file, field, `expected a positive number, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const flag = (field: string, fallback: boolean): boolean => {
    const value = json[field] ?? fallback;
    if (typeof value !== 'boolean') {
      throw new ModelConfigError(file, field, `expected true or false, got ${JSON.stringify(value)}`);
    }
    return value;
  };

  const vocabSize = positive('vocab_size');
  const hiddenSize = positive('hidden_size');
  const intermediateSize = positive('intermediate_size');
  const numHiddenLayers = positive('num_hidden_layers');
  const numAttentionHeads = positive('num_attention_heads');
  const numKeyValueHeads = positive('num_key_value_heads', numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new ModelConfigError(
      file,
      'num_key_value_heads',
      `num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  if (json.head_dim === undefined || json.head_dim === null) {
    if (hiddenSize % numAttentionHeads !== 0) {
      throw new ModelConfigError(
        file,
        'num_attention_heads',
        `hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads}) and no head_dim is given`,
      );
    }
  }
  const headDim = positive('head_dim', hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0)
    throw new ModelConfigError(file, 'head_dim', `RoPE needs an even head_dim, got ${headDim}`);

  const hiddenAct = json.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') {
    throw new ModelConfigError(
      file,
      'hidden_act',
      `only 'silu' is supported, got ${JSON.stringify(hiddenAct)}`,
    );
  }
  // Newer transformers nest rope settings in `rope_parameters`; older ones use rope_theta/rope_scaling.
  const ropeParameters = json.rope_parameters;
  let ropeTheta: number;
  if (isObject(ropeParameters)) {
    const ropeType = ropeParameters.rope_type ?? 'default';
    if (ropeType !== 'default') {
      throw new ModelConfigError(
        file,
        'rope_parameters.rope_type',
        `only 'default' RoPE is supported, got ${JSON.stringify(ropeType)}`,
      );
    }
    ropeTheta = positiveNumber(
      'rope_parameters.rope_theta',
      ropeParameters.rope_theta ?? json.rope_theta ?? 10000,
    );
  } else {
    ropeTheta = positiveNumber('rope_theta', json.rope_theta ?? 10000); // both HF configs default to 10000
  }
  const ropeScaling = json.rope_scaling;
  if (ropeScaling !== undefined && ropeScaling !== null) {
    const kind = isObject(ropeScaling) ? (ropeScaling.rope_type ?? ropeScaling.type) : ropeScaling;
    if (kind !== 'default') {
      throw new ModelConfigError(
        file,
        'rope_scaling',
        `RoPE scaling ${JSON.stringify(kind)} is not supported`,
      );
    }
  }
  const rmsNormEps = positiveNumber('rms_norm_eps', json.rms_norm_eps ?? 1e-6); // HF default for both
  if (modelType === 'qwen2' && json.use_sliding_window === true) {
    throw new ModelConfigError(file, 'use_sliding_window', 'sliding-window attention is not supported');
  }

  const attentionBiasFlag = modelType === 'llama' ? flag('attention_bias', false) : false;
  const mlpBias = modelType === 'llama' ? flag('mlp_bias', false) : false;
  const tieWordEmbeddings = flag('tie_word_embeddings', false); // HF default for both
  // qwen2 always has q/k/v biases and no o_proj bias; llama's attention_bias covers all four.
  const attentionBias = modelType === 'qwen2' ? true : attentionBiasFlag;
  const outputBias = modelType === 'qwen2' ? false : attentionBiasFlag;
  const maxPositionEmbeddings = positive('max_position_embeddings', modelType === 'qwen2' ? 32768 : 2048);

  const ids = (source: Json, sourceFile: string, field: string): number[] => {
    const value = source[field];
    if (value === undefined || value === null) return [];
    const list = Array.isArray(value) ? value : [value];
    list.forEach((id, index) => {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new ModelConfigError(
          sourceFile,
          Array.isArray(value) ? `${field}[${index}]` : field,
          `expected a token id in [0, ${vocabSize}), got ${JSON.stringify(id)}`,
        );
      }
    });
    return list as number[];
  };
  let bos = ids(json, file, 'bos_token_id');
  let eos = ids(json, file, 'eos_token_id');
  if (options.generationConfig !== undefined) {
    const generationFile = options.generationConfigFile ?? 'generation_config.json';
    if (!isObject(options.generationConfig)) {
      throw new ModelConfigError(generationFile, '(root)', 'expected a JSON object');
    }
    const generationEos = ids(options.generationConfig, generationFile, 'eos_token_id');
    const generationBos = ids(options.generationConfig, generationFile, 'bos_token_id');
    // generate() in transformers uses generation_config's ids; keep config.json's as extra stops.
    eos = [...new Set([...generationEos, ...eos])];
    if (generationBos.length > 0) bos = generationBos;
  }
  if (bos.length > 1) throw new ModelConfigError(file, 'bos_token_id', 'expected a single token id');

  return {
    modelType,
    vocabSize,
    hiddenSize,
    intermediateSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    ropeTheta,
    rmsNormEps,
    tieWordEmbeddings,
    attentionBias,
    outputBias,
    mlpBias,
    maxPositionEmbeddings,
    bosTokenId: bos[0] ?? null,
    eosTokenIds: eos,
  };
}

/** Reads `config.json` and, when present, `generation_config.json` from an HF model folder. */
export async function loadDecoderConfig(dir: string): Promise<DecoderConfig> {
  const file = join(dir, 'config.json');
  const json = await readJsonFile(file);
  const generationConfigFile = join(dir, 'generation_config.json');
  const generationConfig = await readJsonFile(generationConfigFile, { optional: true });
  return parseDecoderConfig(json, {
    file,
    ...(generationConfig !== undefined ? { generationConfig, generationConfigFile } : {}),
  });
}

/** The HF `config.json` object for a DecoderConfig (what transformers and llama.cpp's converter read). */
export function decoderConfigToHfJson(config: DecoderConfig): Record<string, unknown> {
  const eos = config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds;
  const json: Record<string, unknown> = {
    architectures: [config.modelType === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: config.modelType,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numHiddenLayers,
    num_attention_heads: config.numAttentionHeads,
    num_key_value_heads: config.numKeyValueHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    rope_theta: config.ropeTheta,
    rms_norm_eps: config.rmsNormEps,
    max_position_embeddings: config.maxPositionEmbeddings,
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 0 ? null : eos,
    initializer_range: 0.02,
    torch_dtype: 'float32',
  };
  if (config.modelType === 'llama') {
    if (config.attentionBias !== config.outputBias) {
      throw new ModelConfigError(
        'config.json',
        'attention_bias',
        'llama applies attention_bias to q, k, v and o alike',
      );
    }
    json.attention_bias = config.attentionBias;
    json.mlp_bias = config.mlpBias;
  } else {
    if (!config.attentionBias || config.outputBias || config.mlpBias) {
      throw new ModelConfigError('config.json', 'model_type', 'qwen2 has q/k/v biases only');
    }
    json.use_sliding_window = false;
  }
  return json;
}

/** Reads and parses a JSON file; a missing file is a MissingFileError (or undefined when optional). */
export async function readJsonFile(file: string, options: { optional: true }): Promise<unknown>;
export async function readJsonFile(file: string, options?: { optional?: false }): Promise<unknown>;
export async function readJsonFile(file: string, options: { optional?: boolean } = {}): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (options.optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MissingFileError(file, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ModelConfigError(file, '(root)', `invalid JSON: ${(error as Error).message}`);
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
