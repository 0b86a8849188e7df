// DecoderRunner over onnxruntime-node: prefill/decode graphs compiled once per (mode, lastOnly),
// weights fed as graph inputs on every call (so `setWeights` swaps trained weights in without
// recompiling), and a KV cache kept as per-layer host tensors (batch, kvHeads, past, headDim).

import { InvalidInputError } from '@sr1/core';
import type { Device, GraphSession, HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import type {
  DecoderConfig,
  DecoderRunner,
  ForwardInputs,
  ForwardOutputs,
  KvCache,
  WeightMap,
} from '../engine-types.js';
import { expectedWeights } from '../weights.js';
import type { DecoderGraphOptions } from './decoder-graph.js';
import { buildDecoderGraph, DECODER_NAMES } from './decoder-graph.js';

/** Options of `OrtDecoderRunner.create`. */
export interface OrtDecoderRunnerOptions {
  device?: Device; // 'cpu': always present; 'cuda' needs ORT's CUDA provider libraries
  /** Intra-op threads per session (default: ORT's choice). */
  threads?: number;
  /**
   * Use the opset-23 fused RMSNormalization/RotaryEmbedding/Attention graphs (tested equal to the
   * plain graph). Default: on for 'cpu' (measured 1.1–1.25× faster, docs/benchmarks.md), off for
   * 'cuda' (whose kernels for these ops have not been checked here).
   */
  fused?: boolean;
}

/** The runner's cache layout: per layer keys and values, each (batch, kvHeads, length, headDim). */
interface CacheHandles {
  keys: HostValue[];
  values: HostValue[];
}

function handlesOf(cache: KvCache): CacheHandles {
  const handles = cache.handles as CacheHandles | undefined;
  if (handles === undefined || !Array.isArray(handles.keys) || !Array.isArray(handles.values)) {
    throw new InvalidInputError({ field: 'cache', reason: 'not a cache produced by OrtDecoderRunner' });
  }
  return handles;
}

/** Runs the compiled decoder graphs on onnxruntime-node. */
export class OrtDecoderRunner implements DecoderRunner {
  readonly config: DecoderConfig;
  private readonly options: OrtDecoderRunnerOptions;
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  private weightFeeds: Record<string, HostValue> = {};

  private constructor(config: DecoderConfig, options: OrtDecoderRunnerOptions) {
    this.config = config;
    this.options = options;
  }

  /** A runner for `config` with `weights` (float32, HF names and layouts). Sessions compile lazily. */
  static async create(
    config: DecoderConfig,
    weights: WeightMap,
    options: OrtDecoderRunnerOptions = {},
  ): Promise<OrtDecoderRunner> {
    const runner = new OrtDecoderRunner(config, options);
    runner.setWeights(weights);
    // Compile the common prefill session now so a missing device fails at creation.
    await runner.session({ mode: 'prefill', lastOnly: false });
    return runner;
  }

  /** Replaces the weights fed to every session (e.g. after an optimiser step); shapes must match. */
  setWeights(weights: WeightMap): void {
    const feeds: Record<string, HostValue> = {};
    for (const [name, spec] of expectedWeights(this.config)) {
      const tensor = weights.get(name);
      if (tensor === undefined) throw new InvalidInputError({ field: name, reason: 'weight missing' });
      if (tensor.shape.length !== spec.shape.length || tensor.shape.some((d, i) => d !== spec.shape[i])) {
        throw new InvalidInputError({
          field: name,
          reason: `shape (${tensor.shape.join(', ')}), expected (${spec.shape.join(', ')})`,
        });
      }
      feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
    }
    this.weightFeeds = feeds;
  }

  private session(options: DecoderGraphOptions): Promise<GraphSession> {
    const key = `${options.mode}|${options.lastOnly === true}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      const { graph } = buildDecoderGraph(this.config, {
        ...options,
        fused: this.options.fused ?? (this.options.device ?? 'cpu') === 'cpu',
      });
      session = createSession(graph, {
        device: this.options.device ?? 'cpu',
        ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
      });
      this.sessions.set(key, session);
      session.catch(() => this.sessions.delete(key));
    }
    return session;
  }

  private checkInputs(inputs: ForwardInputs, pastLength: number): void {
    const { batchSize, newLength } = inputs;
    const expect = (field: string, actual: number, expected: number) => {
      if (actual !== expected) {
        throw new InvalidInputError({
          field,
          reason: `has ${actual} values, expected ${expected} (batch ${batchSize})`,
        });
      }
    };
    if (!Number.isInteger(batchSize) || batchSize < 1 || !Number.isInteger(newLength) || newLength < 1) {
      throw new InvalidInputError({
        field: 'batchSize/newLength',
        reason: `must be positive integers, got ${batchSize}/${newLength}`,
      });
    }
    expect('inputIds', inputs.inputIds.length, batchSize * newLength);
    expect('positionIds', inputs.positionIds.length, batchSize * newLength);
    expect('attentionMask', inputs.attentionMask.length, batchSize * (pastLength + newLength));
  }

  private async forward(
    inputs: ForwardInputs,
    cache: KvCache | undefined,
    lastOnly: boolean,
  ): Promise<ForwardOutputs> {
    const past = cache?.length ?? 0;
    this.checkInputs(inputs, past);
    if (cache !== undefined && cache.batchSize !== inputs.batchSize) {
      throw new InvalidInputError({
        field: 'cache',
        reason: `holds ${cache.batchSize} rows, inputs have ${inputs.batchSize}`,
      });
    }
    const N = DECODER_NAMES;
    const { batchSize: batch, newLength } = inputs;
    const feeds: Record<string, HostValue> = {
      ...this.weightFeeds,
      [N.inputIds]: { dtype: 'int64', shape: [batch, newLength], data: inputs.inputIds },
      [N.positionIds]: { dtype: 'int64', shape: [batch, newLength], data: inputs.positionIds },
      [N.attentionMask]: { dtype: 'int64', shape: [batch, past + newLength], data: inputs.attentionMask },
    };
    const useDecode = cache !== undefined && cache.length > 0;
    if (useDecode) {
      const handles = handlesOf(cache);
      for (let layer = 0; layer < this.config.numHiddenLayers; layer++) {
        feeds[N.pastKey(layer)] = handles.keys[layer]!;
        feeds[N.pastValue(layer)] = handles.values[layer]!;
      }
    }
    const session = await this.session({ mode: useDecode ? 'decode' : 'prefill', lastOnly });
    const out = await session.run(feeds);
    const handles: CacheHandles = { keys: [], values: [] };
    for (let layer = 0; layer < this.config.numHiddenLayers; layer++) {
      handles.keys.push(out[N.presentKey(layer)]!);
      handles.values.push(out[N.presentValue(layer)]!);
    }
    return {
      logits: out[N.logits]!.data as Float32Array,
      cache: { length: past + newLength, batchSize: batch, handles },
    };
  }

  prefill(inputs: ForwardInputs, options: { lastOnly?: boolean } = {}): Promise<ForwardOutputs> {
    return this.forward(inputs, undefined, options.lastOnly ?? false);
  }

  decode(
    inputs: ForwardInputs,
    cache: KvCache,
    options: { lastOnly?: boolean } = {},
  ): Promise<ForwardOutputs> {
    return this.forward(inputs, cache, options.lastOnly ?? false);
  }

  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const handles = handlesOf(cache);
    for (const row of rows) {
      if (!Number.isInteger(row) || row < 0 || row >= cache.batchSize) {
        throw new InvalidInputError({
          field: 'rows',
          reason: `row ${row} outside batch of ${cache.batchSize}`,
        });
      }
    }
    const pick = (tensor: HostValue): HostValue => {
      const [, kvHeads, length, headDim] = tensor.shape as [number, number, number, number];
      const rowSize = kvHeads * length * headDim;
      const source = tensor.data as Float32Array;
      const data = new Float32Array(rows.length * rowSize);
      rows.forEach((row, i) => {
        data.set(source.subarray(row * rowSize, (row + 1) * rowSize), i * rowSize);
      });
      return { dtype: tensor.dtype, shape: [rows.length, kvHeads, length, headDim], data };
    };
    return {
      length: cache.length,
      batchSize: rows.length,
      handles: { keys: handles.keys.map(pick), values: handles.values.map(pick) } satisfies CacheHandles,
    };
  }

  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of sessions) await (await session).release();
  }
}
