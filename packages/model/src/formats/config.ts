// Reads an HF `config.json` (+ `generation_config.json`) of a qwen2 or llama decoder into the
// normalised DecoderConfig, validating every field, and writes a DecoderConfig back as HF JSON.

import { readFile } from 'node:fs/promises';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import type { DecoderConfig } from '../engine-types.js';
import { MissingFileError, ModelConfigError } from '../errors.js';

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
  /** Memory the sizes are checked against; default this machine's (`os.totalmem()`, `os.freemem()`). */
  memory?: { totalBytes: number; freeBytes: number };
}

/**
 * The most elements one weight tensor may have: sr1 holds each tensor in one Float32Array, and
 * V8 allows at most 2^32 elements in a typed array (Node 20; `buffer.constants.MAX_LENGTH`).
 */
export const MAX_TENSOR_ELEMENTS = 2 ** 32;

/** What a config costs in memory, computed from its sizes alone (nothing is allocated). */
export interface DecoderMemoryEstimate {
  /** Parameters of all weights (what `countParameters(initWeights(config))` returns). */
  parameters: number;
  /** Parameters of the embedding and, when untied, the LM head. */
  embeddingParameters: number;
  /** Parameters of one decoder layer, and of its MLP alone. */
  layerParameters: number;
  mlpParameters: number;
  /** Bytes of the weights as float32, what sr1 computes in. */
  weightBytes: number;
  /** Bytes of the float32 KV cache of one sequence at `maxPositionEmbeddings` positions. */
  kvCacheBytesPerSequence: number;
  /** The largest weight tensor, its element count, and the config field that sizes it. */
  largestTensor: { name: string; elements: number; field: string };
}

/** Sizes of weights and KV cache implied by a config, from arithmetic on its fields. */
export function estimateDecoderMemory(config: DecoderConfig): DecoderMemoryEstimate {
  const h = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const ff = config.intermediateSize;
  const attention =
    h * q + 2 * h * kv + q * h + (config.attentionBias ? q + 2 * kv : 0) + (config.outputBias ? h : 0);
  const mlpParameters = 3 * h * ff + (config.mlpBias ? 2 * ff + h : 0);
  const layerParameters = attention + mlpParameters + 2 * h; // two RMSNorms
  const embeddingParameters = config.vocabSize * h * (config.tieWordEmbeddings ? 1 : 2);
  const parameters = embeddingParameters + config.numHiddenLayers * layerParameters + h; // final norm
  const tensors: { name: string; elements: number; field: string }[] = [
    {
      name: 'model.embed_tokens.weight',
      elements: config.vocabSize * h,
      field: config.vocabSize >= h ? 'vocab_size' : 'hidden_size',
    },
    { name: 'mlp.*_proj.weight', elements: ff * h, field: ff >= h ? 'intermediate_size' : 'hidden_size' },
    {
      name: 'self_attn.q_proj.weight',
      elements: q * h,
      field: q >= h ? 'num_attention_heads' : 'hidden_size',
    },
  ];
  const largestTensor = tensors.reduce((a, b) => (b.elements > a.elements ? b : a));
  return {
    parameters,
    embeddingParameters,
    layerParameters,
    mlpParameters,
    weightBytes: parameters * 4,
    kvCacheBytesPerSequence: config.numHiddenLayers * 2 * kv * config.maxPositionEmbeddings * 4,
    largestTensor,
  };
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const count = (n: number) =>
  n >= 1e12
    ? n.toExponential(2)
    : n >= 1e9
      ? `${(n / 1e9).toPrecision(3)}B`
      : n >= 1e6
        ? `${(n / 1e6).toPrecision(3)}M`
        : String(n);

/**
 * Refuses, before anything is allocated, a config whose largest tensor cannot be one typed array,
 * whose float32 weights exceed the machine's memory — its total (`against: 'total'`, what
 * `parseDecoderConfig` checks: the model can never fit) or what is free now (`'free'`, checked
 * right before the weights are allocated or read) — or whose KV cache for one full-length
 * sequence exceeds its total memory. The error names the field that makes it so.
 */
export function checkDecoderFitsMemory(
  config: DecoderConfig,
  file: string,
  memory: { totalBytes: number; freeBytes: number } = { totalBytes: totalmem(), freeBytes: freemem() },
  against: 'total' | 'free' = 'total',
): void {
  const estimate = estimateDecoderMemory(config);
  const { largestTensor } = estimate;
  if (largestTensor.elements > MAX_TENSOR_ELEMENTS) {
    throw new ModelConfigError(
      file,
      largestTensor.field,
      `${largestTensor.name} would hold ${largestTensor.elements} elements; a tensor is one typed array of at most 2^32`,
    );
  }
  const layersParameters = config.numHiddenLayers * estimate.layerParameters;
  const available = against === 'free' ? memory.freeBytes : memory.totalBytes;
  if (estimate.weightBytes > available) {
    throw new ModelConfigError(
      file,
      estimate.embeddingParameters > layersParameters ? 'vocab_size' : 'num_hidden_layers',
      `the weights need ${gib(estimate.weightBytes)} as float32 (${count(estimate.parameters)} parameters: ` +
        `${config.numHiddenLayers} layers × ${count(estimate.layerParameters)}, of which the MLP with intermediate_size ${config.intermediateSize} is ${count(estimate.mlpParameters)}, ` +
        `+ ${count(estimate.embeddingParameters)} in embeddings), more than ` +
        (against === 'free'
          ? `the ${gib(memory.freeBytes)} free of this machine's ${gib(memory.totalBytes)} of memory`
          : `this machine's ${gib(memory.totalBytes)} of memory`),
    );
  }
  if (estimate.kvCacheBytesPerSequence > memory.totalBytes) {
    throw new ModelConfigError(
      file,
      'max_position_embeddings',
      `the KV cache of one sequence of ${config.maxPositionEmbeddings} positions needs ${gib(estimate.kvCacheBytesPerSequence)}, more than this machine's ${gib(memory.totalBytes)} of memory`,
    );
  }
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

  const config: DecoderConfig = {
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
  checkDecoderFitsMemory(config, file, options.memory);
  return config;
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
