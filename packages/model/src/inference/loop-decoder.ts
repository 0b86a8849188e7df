// Generation that moves no weights and no KV cache per step (issue #15's GPU design): the
// decode-loop graph (graphs/decode-loop-graph.ts) compiled once per policy version with the
// weights as session initializers, so a `generate` call is one run that feeds the prompts and
// fetches the tokens and their log-probs. The session's transfer ledger counts exactly those bytes.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import type { ConstantData, Device, GraphSession, HostValue, TransferLedger } from '@sr1/graph';
import { createSession, writeModel } from '@sr1/graph';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import { buildDecodeLoopGraph, DECODE_LOOP_NAMES } from '../graphs/decode-loop-graph.js';
import { checkPrecision, type Precision } from '../graphs/precision.js';
import type { FinishReason } from './generate.js';

/** Weights above this many bytes go to an ONNX external-data file (protobuf's limit is 2 GB). */
const INLINE_WEIGHT_LIMIT = 1 << 30;

/** Options of `LoopDecoder.load`. */
export interface LoopDecoderOptions {
  device?: Device; // 'cpu' by default; 'cuda' needs ORT's CUDA provider libraries
  /** Intra-op threads (default: ORT's choice). */
  threads?: number;
  /**
   * Seed of the in-graph Gumbel noise. onnxruntime seeds it once per session: every
   * `load`/`setWeights` restarts the same sequence of draws, and each `generate` continues it.
   * Default 0.
   */
  seed?: number;
  /**
   * 'auto' (default): weights of more than 1 GiB are written to a temporary folder as an ONNX
   * model with external data and loaded from there (removed on `setWeights`/`dispose`); smaller
   * ones are serialised in memory. 'always' / 'never' force either way.
   */
  externalData?: 'auto' | 'always' | 'never';
  /**
   * Compute precision of the MatMuls (see `Precision`); the cache, inside the run, is held in it.
   * The initializers stay the float32 weights; ORT folds their casts at compile time. 'bfloat16'
   * needs 'cuda'. Default 'float32'.
   */
  precision?: Precision;
}

/** Options of `LoopDecoder.generate`. */
export interface LoopGenerateOptions {
  /** Most tokens generated per prompt (≥ 0). */
  maxNewTokens: number;
  /** 0 = greedy (default); otherwise sampling from softmax(logits / temperature), no top-k/top-p. */
  temperature?: number;
  /** Ids that end a row, kept as its last token. Default: the config's eos ids. */
  eosTokenIds?: readonly number[];
}

/** One generated continuation. */
export interface LoopGeneratedSequence {
  promptTokenIds: number[];
  /** Generated ids; an EOS id, when one ended the row, is the last. */
  tokenIds: number[];
  /** Per token, log π(token) under softmax(logits / temperature) (temperature 1 when greedy), as `generate`. */
  logprobs: number[];
  finishReason: Extract<FinishReason, 'eos' | 'length'>;
}

/** A compiled session and, when its model was written to disk, the folder to remove with it. */
interface Compiled {
  session: GraphSession;
  folder: string | undefined;
}

/**
 * Runs the decode-loop graph with the weights held by the session (device-resident on a GPU,
 * copied once per policy version). `setWeights` rebuilds the session; `generate` is one run.
 */
export class LoopDecoder {
  readonly config: DecoderConfig;
  private readonly options: LoopDecoderOptions;
  private compiled: Compiled | undefined;
  private bytesOfWeights = 0;

  private constructor(config: DecoderConfig, options: LoopDecoderOptions) {
    this.config = config;
    this.options = options;
  }

  /** Compiles the decode-loop graph for `config` with `weights` (float32, HF names and layouts). */
  static async load(
    config: DecoderConfig,
    weights: WeightMap,
    options: LoopDecoderOptions = {},
  ): Promise<LoopDecoder> {
    checkPrecision(options.precision ?? 'float32', options.device ?? 'cpu');
    const decoder = new LoopDecoder(config, options);
    await decoder.setWeights(weights);
    return decoder;
  }

  /** Bytes of the weights the session holds (what a per-step design would copy each run). */
  get weightBytes(): number {
    return this.bytesOfWeights;
  }

  /** Host↔device bytes of the runs since the weights were set (see @sr1/graph's `TransferLedger`). */
  get ledger(): TransferLedger {
    return this.current().session.ledger;
  }

  /** Zeroes the ledger's run counts. */
  resetLedger(): void {
    this.current().session.resetLedger();
  }

  /** Rebuilds the session around new weights (a new policy version); shapes must match the config. */
  async setWeights(weights: WeightMap): Promise<void> {
    const initializers: Record<string, ConstantData> = {};
    let bytes = 0;
    for (const [name, spec] of expectedWeights(this.config)) {
      const tensor = weights.get(name);
      if (tensor === undefined) throw new InvalidInputError({ field: name, reason: 'weight missing' });
      if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
        throw new InvalidInputError({
          field: name,
          reason: `shape (${tensor.shape.join(', ')}), expected (${spec.shape.join(', ')})`,
        });
      }
      initializers[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
      bytes += tensor.data.byteLength;
    }
    const { graph } = buildDecodeLoopGraph(this.config, {
      seed: this.options.seed ?? 0,
      ...(this.options.precision !== undefined ? { precision: this.options.precision } : {}),
    });
    const mode = this.options.externalData ?? 'auto';
    const external = mode === 'always' || (mode === 'auto' && bytes > INLINE_WEIGHT_LIMIT);
    const sessionOptions = {
      device: this.options.device ?? 'cpu',
      ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
    };
    await this.release();
    let compiled: Compiled;
    if (external) {
      const folder = await mkdtemp(join(tmpdir(), 'sr1-loop-decoder-'));
      try {
        const path = join(folder, 'decode-loop.onnx');
        writeModel(graph, path, { location: 'decode-loop.data', initializers });
        compiled = { session: await createSession(path, sessionOptions), folder };
      } catch (error) {
        await rm(folder, { recursive: true, force: true });
        throw error;
      }
    } else {
      compiled = {
        session: await createSession(graph, { ...sessionOptions, initializers }),
        folder: undefined,
      };
    }
    this.compiled = compiled;
    this.bytesOfWeights = bytes;
  }

  /**
   * Generates continuations of token-id prompts in one run: left-padded prefill, then in-graph
   * decode steps until every row has hit an EOS id or its budget (`maxNewTokens`, and the
   * model's position limit).
   */
  async generate(
    prompts: readonly (readonly number[])[],
    options: LoopGenerateOptions,
  ): Promise<LoopGeneratedSequence[]> {
    const { session } = this.current();
    const temperature = options.temperature ?? 0;
    if (!Number.isFinite(temperature) || temperature < 0)
      throw new InvalidInputError({ field: 'generate.temperature', reason: 'must be a number ≥ 0' });
    if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0)
      throw new InvalidInputError({ field: 'generate.maxNewTokens', reason: 'must be an integer ≥ 0' });
    const { vocabSize: vocab, maxPositionEmbeddings: maxPositions } = this.config;
    prompts.forEach((prompt, index) => {
      if (prompt.length === 0)
        throw new InvalidInputError({
          field: `prompts[${index}]`,
          reason: 'a prompt needs at least one token',
        });
      prompt.forEach((id, position) => {
        if (!Number.isInteger(id) || id < 0 || id >= vocab)
          throw new InvalidInputError({
            field: `prompts[${index}][${position}]`,
            reason: `token id ${id} is outside the vocabulary [0, ${vocab})`,
          });
      });
      if (prompt.length >= maxPositions)
        throw new InvalidInputError({
          field: `prompts[${index}]`,
          reason: `prompt has ${prompt.length} tokens; the model holds at most ${maxPositions} positions`,
        });
    });
    const eos = options.eosTokenIds ?? this.config.eosTokenIds;
    const eosSet = new Set(eos);
    if (prompts.length === 0) return [];
    if (options.maxNewTokens === 0)
      return prompts.map((prompt) => ({
        promptTokenIds: [...prompt],
        tokenIds: [],
        logprobs: [],
        finishReason: 'length',
      }));

    const batch = prompts.length;
    const width = Math.max(...prompts.map((prompt) => prompt.length));
    const inputIds = new BigInt64Array(batch * width); // padding id 0: masked, inside the vocabulary
    const attentionMask = new BigInt64Array(batch * width);
    const positionIds = new BigInt64Array(batch * width);
    const budgets = prompts.map((prompt) => Math.min(options.maxNewTokens, maxPositions - prompt.length));
    prompts.forEach((prompt, b) => {
      const offset = width - prompt.length;
      prompt.forEach((id, j) => {
        inputIds[b * width + offset + j] = BigInt(id);
        attentionMask[b * width + offset + j] = 1n;
        positionIds[b * width + offset + j] = BigInt(j);
      });
    });
    const maxNew = Math.max(...budgets);
    const N = DECODE_LOOP_NAMES;
    const feeds: Record<string, HostValue> = {
      [N.inputIds]: { dtype: 'int64', shape: [batch, width], data: inputIds },
      [N.attentionMask]: { dtype: 'int64', shape: [batch, width], data: attentionMask },
      [N.positionIds]: { dtype: 'int64', shape: [batch, width], data: positionIds },
      [N.maxNewTokens]: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(maxNew)) },
      [N.rowMaxNewTokens]: { dtype: 'int64', shape: [batch], data: BigInt64Array.from(budgets.map(BigInt)) },
      [N.temperature]: { dtype: 'float32', shape: [], data: Float32Array.of(temperature) },
      // no EOS ids: one id outside the vocabulary, which nothing matches
      [N.stopIds]:
        eos.length > 0
          ? { dtype: 'int64', shape: [eos.length], data: BigInt64Array.from(eos.map(BigInt)) }
          : { dtype: 'int64', shape: [1], data: BigInt64Array.of(-1n) },
    };
    const out = await session.run(feeds);
    const tokens = out[N.tokens]!.data as BigInt64Array;
    const logprobs = out[N.logprobs]!.data as Float32Array;
    const lengths = out[N.lengths]!.data as BigInt64Array;
    const steps = out[N.tokens]!.shape[1]!;
    return prompts.map((prompt, b) => {
      const length = Number(lengths[b]!);
      const tokenIds = Array.from(tokens.subarray(b * steps, b * steps + length), Number);
      return {
        promptTokenIds: [...prompt],
        tokenIds,
        logprobs: Array.from(logprobs.subarray(b * steps, b * steps + length)),
        finishReason: length > 0 && eosSet.has(tokenIds[length - 1]!) ? 'eos' : 'length',
      };
    });
  }

  /** Releases the session (and removes its model folder, if one was written). */
  async dispose(): Promise<void> {
    await this.release();
  }

  private current(): Compiled {
    if (this.compiled === undefined)
      throw new InvalidInputError({ field: 'LoopDecoder', reason: 'disposed; load it again' });
    return this.compiled;
  }

  private async release(): Promise<void> {
    const compiled = this.compiled;
    this.compiled = undefined;
    if (compiled === undefined) return;
    await compiled.session.release();
    if (compiled.folder !== undefined) await rm(compiled.folder, { recursive: true, force: true });
  }
}
