// Dense encoder over a local ONNX sentence-embedding model folder (e5 / bge / MiniLM style) run by
// @huggingface/transformers on onnxruntime-node: prefix (`query: ` / `passage: ` for e5), tokenize,
// run, mean-pool `last_hidden_state` over the attention mask, L2-normalise — the reference's
// e5 recipe. Never downloads: remote models are switched off.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidInputError, importOptional } from '@sr1/core';
import { type EncodeRole, type Encoder, normalizeRows } from './encoder.js';
import { RetrieverInputError } from './errors.js';

/** Options of the ONNX encoder. */
export interface OnnxEncoderOptions {
  /** Folder with config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx. */
  modelDir: string;
  /** Prepended to queries. */
  queryPrefix?: string;
  /** Prepended to passages. */
  passagePrefix?: string;
  /** Texts per forward pass. */
  batchSize?: number;
  /** Token limit per text (longer texts are truncated). */
  maxLength?: number;
}

export const ONNX_ENCODER_DEFAULTS = {
  queryPrefix: 'query: ', // e5 convention, the reference's retriever (intfloat/e5-base-v2)
  passagePrefix: 'passage: ', // same
  batchSize: 64, // one ORT call amortises its overhead; memory stays small for base-size models
  maxLength: 256, // the reference's retrieval_query_max_length
} as const;

interface TensorLike {
  dims: number[];
  data: ArrayLike<number | bigint>;
}

type Tokenizer = (texts: string[], options: Record<string, unknown>) => Record<string, TensorLike>;
type Model = ((inputs: Record<string, TensorLike>) => Promise<Record<string, TensorLike>>) & {
  dispose?: () => Promise<unknown>;
};

/** Sentence embeddings from a local ONNX model folder. Create with `OnnxEncoder.load`. */
export class OnnxEncoder implements Encoder {
  readonly id: string;
  readonly dimension: number;
  readonly modelDir: string;
  private readonly options: Required<OnnxEncoderOptions>;
  private readonly tokenizer: Tokenizer;
  private readonly model: Model;

  private constructor(
    options: Required<OnnxEncoderOptions>,
    tokenizer: Tokenizer,
    model: Model,
    dimension: number,
    digest: string,
  ) {
    this.options = options;
    this.modelDir = options.modelDir;
    this.tokenizer = tokenizer;
    this.model = model;
    this.dimension = dimension;
    this.id =
      `onnx:${basename(options.modelDir)}:${digest}:mean:` +
      `q=${JSON.stringify(options.queryPrefix)}:p=${JSON.stringify(options.passagePrefix)}:max=${options.maxLength}`;
  }

  /** Loads tokenizer and model from `options.modelDir` (local files only) and probes the dimension. */
  static async load(options: OnnxEncoderOptions): Promise<OnnxEncoder> {
    const modelDir = resolve(options.modelDir);
    const onnxFile = join(modelDir, 'onnx', 'model.onnx');
    for (const file of ['config.json', 'tokenizer.json', join('onnx', 'model.onnx')]) {
      if (!existsSync(join(modelDir, file))) {
        throw new InvalidInputError({
          code: 'model_folder',
          file: join(modelDir, file),
          reason:
            'missing; an ONNX encoder folder needs config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx',
        });
      }
    }
    const resolved: Required<OnnxEncoderOptions> = {
      modelDir,
      queryPrefix: options.queryPrefix ?? ONNX_ENCODER_DEFAULTS.queryPrefix,
      passagePrefix: options.passagePrefix ?? ONNX_ENCODER_DEFAULTS.passagePrefix,
      batchSize: options.batchSize ?? ONNX_ENCODER_DEFAULTS.batchSize,
      maxLength: options.maxLength ?? ONNX_ENCODER_DEFAULTS.maxLength,
    };
    const transformers = await importOptional(
      '@huggingface/transformers',
      'the ONNX dense encoder',
      () => import('@huggingface/transformers'),
    );
    const { env, AutoTokenizer, AutoModel } = transformers;
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${dirname(modelDir)}/`;
    const name = basename(modelDir);
    const tokenizer = (await AutoTokenizer.from_pretrained(name, {
      local_files_only: true,
    })) as unknown as Tokenizer;
    const model = (await AutoModel.from_pretrained(name, {
      local_files_only: true,
      dtype: 'fp32',
      device: 'cpu',
    })) as unknown as Model;
    const digest = createHash('sha256').update(readFileSync(onnxFile)).digest('hex').slice(0, 12);
    const probe = await runModel(tokenizer, model, ['probe'], resolved.maxLength);
    return new OnnxEncoder(resolved, tokenizer, model, probe.dimension, digest);
  }

  async encode(texts: readonly string[], role: EncodeRole): Promise<Float32Array> {
    const prefix = role === 'query' ? this.options.queryPrefix : this.options.passagePrefix;
    const out = new Float32Array(texts.length * this.dimension);
    for (let start = 0; start < texts.length; start += this.options.batchSize) {
      const batch = texts.slice(start, start + this.options.batchSize).map((text) => prefix + text);
      const { pooled } = await runModel(this.tokenizer, this.model, batch, this.options.maxLength);
      out.set(pooled, start * this.dimension);
    }
    return normalizeRows(out, this.dimension);
  }

  async dispose(): Promise<void> {
    await this.model.dispose?.();
  }
}

/** Tokenizes, runs, and mean-pools over the attention mask; returns (batch, hidden) unnormalised. */
async function runModel(
  tokenizer: Tokenizer,
  model: Model,
  texts: string[],
  maxLength: number,
): Promise<{ pooled: Float32Array; dimension: number }> {
  const inputs = tokenizer(texts, { padding: true, truncation: true, max_length: maxLength });
  const outputs = await model(inputs);
  const hiddenState = outputs.last_hidden_state;
  const mask = inputs.attention_mask;
  if (hiddenState === undefined || mask === undefined) {
    throw new RetrieverInputError(
      'model',
      'ONNX model must output last_hidden_state and the tokenizer must give attention_mask',
    );
  }
  const [batch, sequence, hidden] = hiddenState.dims as [number, number, number];
  return {
    pooled: meanPool(hiddenState.data as Float32Array, mask.data, batch, sequence, hidden),
    dimension: hidden,
  };
}

/**
 * Mean of the hidden states over the positions whose attention mask is 1.
 * @param hiddenState - shape (batch, sequence, hidden), row-major
 * @param attentionMask - 1 = real token, 0 = padding, shape (batch, sequence)
 * @returns shape (batch, hidden)
 */
export function meanPool(
  hiddenState: ArrayLike<number>,
  attentionMask: ArrayLike<number | bigint>,
  batch: number,
  sequence: number,
  hidden: number,
): Float32Array {
  const pooled = new Float32Array(batch * hidden);
  for (let b = 0; b < batch; b++) {
    let count = 0;
    for (let t = 0; t < sequence; t++) {
      if (Number(attentionMask[b * sequence + t]) === 0) continue;
      count++;
      const base = (b * sequence + t) * hidden;
      for (let h = 0; h < hidden; h++) pooled[b * hidden + h]! += hiddenState[base + h]!;
    }
    if (count > 0) for (let h = 0; h < hidden; h++) pooled[b * hidden + h]! /= count;
  }
  return pooled;
}
