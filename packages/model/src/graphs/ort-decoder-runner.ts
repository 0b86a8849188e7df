// DecoderRunner over onnxruntime-node: prefill/decode graphs compiled once per (mode, lastOnly),
// weights either fed as graph inputs on every call (so `setWeights` swaps trained weights in
// without recompiling) or held by the sessions as initializers (recompiled once per policy
// version, the faster decode), and a KV cache kept as per-layer host tensors (batch, kvHeads,
// past, headDim).

import { InvalidInputError } from '@sr1/core';
import type { ConstantData, Device, GraphSession, HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import type {
  DecoderConfig,
  DecoderRunner,
  ForwardInputs,
  ForwardOutputs,
  KvCache,
  WeightMap,
} from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import type { DecoderGraphOptions } from './decoder-graph.js';
import { buildDecoderGraph, DECODER_NAMES } from './decoder-graph.js';
import { checkPrecision, kvCacheDtype, type Precision } from './precision.js';

/** Options of `OrtDecoderRunner.create`. */
export interface OrtDecoderRunnerOptions {
  device?: Device; // 'cpu': always present; 'cuda' needs ORT's CUDA provider libraries
  /** Intra-op threads per session (default: ORT's choice). */
  threads?: number;
  /**
   * Use the opset-23 fused RMSNormalization/RotaryEmbedding/Attention graphs (tested equal to the
   * plain graph). Default off: on ORT 1.30 CPU the fused graph was faster for prefill but slower
   * per decode step in interleaved measurements (docs/benchmarks.md); not checked on CUDA.
   */
  fused?: boolean;
  /**
   * How the weights reach the sessions.
   * - 'inputs' (default): fed on every run. `setWeights` costs nothing and a caller that updates
   *   the WeightMap's arrays in place (an in-thread trainer) is seen at the next forward.
   * - 'initializers': held by each session, which ORT compiles with the weight transposes folded
   *   and the MatMul weights pre-packed; nothing weight-sized is fed per run (on a GPU the weights
   *   stay on the device). `setWeights` (a new policy version) recompiles the sessions in use. A
   *   session reads the arrays when it compiles — at `setWeights` for the kinds already in use,
   *   else at its first forward — so replace, don't mutate, them between versions. Measured on the
   *   25.2M bench model at batch 1, 1 thread: with `fused` a decode step takes about half the time
   *   of the default (packages/model/README.md).
   */
  weightsAs?: 'inputs' | 'initializers';
  /**
   * Compute precision (see `Precision`): 'float16' runs every MatMul in float16 on operands cast
   * from the float32 weights and keeps the KV cache in float16 (half its bytes, fed and held);
   * norms, softmax, logits and the residual stream stay float32. The weights stay float32 either
   * way — fed, or as float32 initializers whose casts ORT folds at compile time. 'bfloat16' needs
   * 'cuda' (a `PrecisionError` on 'cpu'); its cache crosses the session boundary as float32
   * (onnxruntime-node has no bfloat16 tensors). Default 'float32': today's graphs.
   */
  precision?: Precision;
}

/** A KV cache buffer: float32 values, or float16 bits (`kvCacheDtype` 'float16'). */
export type KvBuffer = Float32Array | Uint16Array;

/**
 * The runner's cache: per layer one preallocated buffer (batch, kvHeads, capacity, headDim) for
 * keys and one for values (the graphs' 'static' layout). The graph reads the whole buffer, with
 * the unused slots masked out, and returns only the new entries, which the runner writes into
 * their slots: nothing proportional to the cache is copied per step. Caches that extend one
 * another share a store; extending an older cache again copies it first (copy-on-write), so
 * branching is safe.
 */
interface CacheStore {
  keys: KvBuffer[];
  values: KvBuffer[];
  /** Slots per (row, kv head). */
  capacity: number;
  /** Slots written by the newest cache on this store. */
  written: number;
}

interface CacheHandles {
  store: CacheStore;
}

function handlesOf(cache: KvCache): CacheHandles {
  const handles = cache.handles as CacheHandles | undefined;
  if (handles === undefined || handles.store === undefined || !Array.isArray(handles.store.keys)) {
    throw new InvalidInputError({ field: 'cache', reason: 'not a cache produced by OrtDecoderRunner' });
  }
  return handles;
}

/**
 * Capacity for a cache of `length` steps: 25 % (at least 64 steps) of headroom. Geometric growth
 * keeps appends amortised O(new entries) while a large batch's cache overshoots by a quarter, not
 * by double; attention reads the headroom too (masked), so it should stay modest.
 */
export function roomFor(length: number): number {
  return length + Math.max(64, Math.ceil(length / 4));
}

/** Geometry of a cache buffer: `blocks` = batch · kvHeads blocks of capacity × headDim values. */
interface Geometry {
  blocks: number;
  headDim: number;
  dtype: 'float32' | 'float16';
}

/** A zeroed cache buffer of `size` values in `dtype`. */
export function newKvBuffer(size: number, dtype: 'float32' | 'float16'): KvBuffer {
  return dtype === 'float16' ? new Uint16Array(size) : new Float32Array(size);
}

function newStore(layers: number, capacity: number, geometry: Geometry): CacheStore {
  const size = geometry.blocks * capacity * geometry.headDim;
  const make = () => Array.from({ length: layers }, () => newKvBuffer(size, geometry.dtype));
  return { keys: make(), values: make(), capacity, written: 0 };
}

/**
 * Copies the first `length` slots of each block, `rows` selecting (and ordering) batch rows, into
 * a new store of `capacity` slots.
 */
function copyStore(
  store: CacheStore,
  length: number,
  capacity: number,
  kvHeads: number,
  headDim: number,
  rows: readonly number[],
  dtype: 'float32' | 'float16',
): CacheStore {
  const copy = newStore(store.keys.length, capacity, { blocks: rows.length * kvHeads, headDim, dtype });
  const span = length * headDim;
  const copyBuffer = (source: KvBuffer, target: KvBuffer) => {
    rows.forEach((row, i) => {
      for (let head = 0; head < kvHeads; head++) {
        const from = (row * kvHeads + head) * store.capacity * headDim;
        target.set(source.subarray(from, from + span), (i * kvHeads + head) * capacity * headDim);
      }
    });
  };
  store.keys.forEach((buffer, layer) => {
    copyBuffer(buffer, copy.keys[layer]!);
  });
  store.values.forEach((buffer, layer) => {
    copyBuffer(buffer, copy.values[layer]!);
  });
  copy.written = length;
  return copy;
}

/** Writes new entries (batch, kvHeads, newLength, headDim) into slots [at, at + newLength). */
function writeEntries(
  target: KvBuffer,
  entries: KvBuffer,
  capacity: number,
  at: number,
  blocks: number,
  newLength: number,
  headDim: number,
): void {
  const span = newLength * headDim;
  for (let block = 0; block < blocks; block++) {
    target.set(entries.subarray(block * span, (block + 1) * span), (block * capacity + at) * headDim);
  }
}

/** Runs the compiled decoder graphs on onnxruntime-node. */
export class OrtDecoderRunner implements DecoderRunner {
  readonly config: DecoderConfig;
  /** The compute precision its graphs run in. */
  readonly precision: Precision;
  /** The KV cache's dtype in the runner's buffers and at the session boundary. */
  readonly kvCacheDtype: 'float32' | 'float16';
  private readonly options: OrtDecoderRunnerOptions;
  private readonly sessions = new Map<string, Promise<GraphSession>>();
  /** The sessions compiled so far, for the ledger. */
  private readonly compiled: GraphSession[] = [];
  /** 'inputs': the weights, fed on every run; empty with initializers. */
  private weightFeeds: Record<string, HostValue> = {};
  /** 'initializers': the weights the sessions are compiled with. */
  private weightInitializers: Record<string, ConstantData> = {};
  /** Runs in flight: sessions replaced by `setWeights` are released once none is. */
  private running = 0;
  private retired: Promise<GraphSession>[] = [];
  /** The ledger of released sessions, so that recompiling does not zero it. */
  private readonly releasedLedger = { runs: 0, bytesIn: 0, bytesOut: 0 };

  private constructor(config: DecoderConfig, options: OrtDecoderRunnerOptions) {
    this.config = config;
    this.options = options;
    this.precision = options.precision ?? 'float32';
    this.kvCacheDtype = kvCacheDtype(this.precision);
  }

  /** A runner for `config` with `weights` (float32, HF names and layouts). Sessions compile lazily. */
  static async create(
    config: DecoderConfig,
    weights: WeightMap,
    options: OrtDecoderRunnerOptions = {},
  ): Promise<OrtDecoderRunner> {
    checkPrecision(options.precision ?? 'float32', options.device ?? 'cpu');
    const runner = new OrtDecoderRunner(config, options);
    runner.setWeights(weights);
    // Compile the common prefill session now so a missing device fails at creation.
    await runner.session({ mode: 'prefill', lastOnly: false });
    return runner;
  }

  /**
   * Replaces the weights (e.g. after an optimiser step); shapes must match. With
   * `weightsAs: 'initializers'` the sessions in use are recompiled around them (the old ones are
   * released once no forward runs on them).
   */
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
    if (this.options.weightsAs !== 'initializers') {
      this.weightFeeds = feeds;
      return;
    }
    this.weightInitializers = feeds;
    const inUse = [...this.sessions.keys()];
    this.retired.push(...this.sessions.values());
    this.sessions.clear();
    for (const key of inUse) {
      const [mode, lastOnly] = key.split('|');
      // Compiles now: createSession serialises the graph, and so reads the weights, before it returns.
      this.session({ mode: mode as DecoderGraphOptions['mode'], lastOnly: lastOnly === 'true' });
    }
    this.releaseRetired();
  }

  /** Releases the sessions `setWeights` replaced, once no forward runs on them. */
  private releaseRetired(): void {
    if (this.running > 0 || this.retired.length === 0) return;
    const retired = this.retired;
    this.retired = [];
    for (const pending of retired) {
      pending.then(
        async (session) => {
          const index = this.compiled.indexOf(session);
          if (index >= 0) this.compiled.splice(index, 1);
          const { runs, bytesIn, bytesOut } = session.ledger;
          this.releasedLedger.runs += runs;
          this.releasedLedger.bytesIn += bytesIn;
          this.releasedLedger.bytesOut += bytesOut;
          await session.release();
        },
        () => undefined, // a failed compile was reported to the forward that awaited it
      );
    }
  }

  /** Runs the session for `options` on `feeds`; sessions retired meanwhile outlive the run. */
  private async run(
    options: DecoderGraphOptions,
    feeds: Record<string, HostValue>,
  ): Promise<Record<string, HostValue>> {
    this.running += 1;
    try {
      const session = await this.session(options);
      return await session.run(feeds);
    } finally {
      this.running -= 1;
      this.releaseRetired();
    }
  }

  private session(options: DecoderGraphOptions): Promise<GraphSession> {
    const key = `${options.mode}|${options.lastOnly === true}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      const { graph } = buildDecoderGraph(this.config, {
        ...options,
        cacheLayout: 'static',
        fused: this.options.fused ?? false,
        ...(this.precision !== 'float32' ? { precision: this.precision } : {}),
        // folded once by ORT when the weights are initializers; per run (a copy) when fed
        concatProjections: this.options.weightsAs === 'initializers',
      });
      session = createSession(graph, {
        device: this.options.device ?? 'cpu',
        ...(this.options.threads !== undefined ? { threads: this.options.threads } : {}),
        ...(this.options.weightsAs === 'initializers' ? { initializers: this.weightInitializers } : {}),
      });
      this.sessions.set(key, session);
      session.then(
        (compiled) => this.compiled.push(compiled),
        () => {
          if (this.sessions.get(key) === session) this.sessions.delete(key);
        },
      );
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
    const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim } = this.config;
    const blocks = batch * kvHeads;
    const useDecode = cache !== undefined && cache.length > 0;
    const length = past + newLength;
    const allRows = Array.from({ length: batch }, (_, row) => row);
    let store: CacheStore | undefined;
    if (useDecode) {
      store = handlesOf(cache).store;
      // Branching (someone already extended this store past `past`) or no room left: copy.
      if (store.written !== past || store.capacity < length) {
        store = copyStore(store, past, roomFor(length), kvHeads, headDim, allRows, this.kvCacheDtype);
      }
      const capacity = store.capacity;
      for (let layer = 0; layer < layers; layer++) {
        const shape = [batch, kvHeads, capacity, headDim];
        feeds[N.pastKey(layer)] = { dtype: this.kvCacheDtype, shape, data: store.keys[layer]! };
        feeds[N.pastValue(layer)] = { dtype: this.kvCacheDtype, shape, data: store.values[layer]! };
      }
      // The mask over [capacity slots, new tokens]: the caller's past mask, 0 for empty slots.
      const mask = new BigInt64Array(batch * (capacity + newLength));
      for (let row = 0; row < batch; row++) {
        const source = row * length;
        const target = row * (capacity + newLength);
        mask.set(inputs.attentionMask.subarray(source, source + past), target);
        mask.set(inputs.attentionMask.subarray(source + past, source + length), target + capacity);
      }
      feeds[N.attentionMask] = { dtype: 'int64', shape: [batch, capacity + newLength], data: mask };
    }
    const out = await this.run({ mode: useDecode ? 'decode' : 'prefill', lastOnly }, feeds);
    if (store === undefined)
      store = newStore(layers, roomFor(length), { blocks, headDim, dtype: this.kvCacheDtype });
    for (let layer = 0; layer < layers; layer++) {
      const newKeys = out[N.newKey(layer)]!.data as KvBuffer;
      const newValues = out[N.newValue(layer)]!.data as KvBuffer;
      writeEntries(store.keys[layer]!, newKeys, store.capacity, past, blocks, newLength, headDim);
      writeEntries(store.values[layer]!, newValues, store.capacity, past, blocks, newLength, headDim);
    }
    store.written = length;
    const handles: CacheHandles = { store };
    return {
      logits: out[N.logits]!.data as Float32Array,
      cache: { length, batchSize: batch, handles },
    };
  }

  /**
   * One forward over caller-owned cache buffers in the 'static' layout, for schedulers that keep
   * rows of different lengths in one batch (`inference/scheduler.ts`): the caller says which
   * slots each row may attend to (`inputs.attentionMask`, (batch, capacity + newLength)) and
   * writes the returned new entries wherever it keeps them. Without `past` the prefill graph runs.
   * @param past - per layer keys and values, each (batch, kvHeads, capacity, headDim), in
   *   `kvCacheDtype` (float16: a Uint16Array of bits)
   * @returns logits ((batch, vocab) when `lastOnly`, else (batch, newLength, vocab)) and per layer
   *   the new keys and values, each (batch, kvHeads, newLength, headDim), in `kvCacheDtype`
   */
  async runStatic(
    inputs: ForwardInputs,
    past: { keys: readonly KvBuffer[]; values: readonly KvBuffer[]; capacity: number } | undefined,
    lastOnly: boolean,
  ): Promise<{ logits: Float32Array; newKeys: KvBuffer[]; newValues: KvBuffer[] }> {
    const capacity = past?.capacity ?? 0;
    this.checkInputs(inputs, capacity);
    const N = DECODER_NAMES;
    const { batchSize: batch, newLength } = inputs;
    const { numHiddenLayers: layers, numKeyValueHeads: kvHeads, headDim } = this.config;
    const feeds: Record<string, HostValue> = {
      ...this.weightFeeds,
      [N.inputIds]: { dtype: 'int64', shape: [batch, newLength], data: inputs.inputIds },
      [N.positionIds]: { dtype: 'int64', shape: [batch, newLength], data: inputs.positionIds },
      [N.attentionMask]: { dtype: 'int64', shape: [batch, capacity + newLength], data: inputs.attentionMask },
    };
    if (past !== undefined) {
      for (let layer = 0; layer < layers; layer++) {
        const shape = [batch, kvHeads, capacity, headDim];
        feeds[N.pastKey(layer)] = { dtype: this.kvCacheDtype, shape, data: past.keys[layer]! };
        feeds[N.pastValue(layer)] = { dtype: this.kvCacheDtype, shape, data: past.values[layer]! };
      }
    }
    const out = await this.run({ mode: past !== undefined ? 'decode' : 'prefill', lastOnly }, feeds);
    const newKeys: KvBuffer[] = [];
    const newValues: KvBuffer[] = [];
    for (let layer = 0; layer < layers; layer++) {
      newKeys.push(out[N.newKey(layer)]!.data as KvBuffer);
      newValues.push(out[N.newValue(layer)]!.data as KvBuffer);
    }
    return { logits: out[N.logits]!.data as Float32Array, newKeys, newValues };
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
    const { store } = handlesOf(cache);
    for (const row of rows) {
      if (!Number.isInteger(row) || row < 0 || row >= cache.batchSize) {
        throw new InvalidInputError({
          field: 'rows',
          reason: `row ${row} outside batch of ${cache.batchSize}`,
        });
      }
    }
    const { numKeyValueHeads: kvHeads, headDim } = this.config;
    const selected = copyStore(
      store,
      cache.length,
      roomFor(cache.length),
      kvHeads,
      headDim,
      rows,
      this.kvCacheDtype,
    );
    return {
      length: cache.length,
      batchSize: rows.length,
      handles: { store: selected } satisfies CacheHandles,
    };
  }

  /**
   * Host↔device bytes of every run so far, summed over the compiled graphs (see @sr1/graph's
   * `TransferLedger`): the KV cache is fed on every decode step, and the weights too unless they
   * are initializers (copied once per compiled session, never per run).
   */
  get ledger(): { runs: number; bytesIn: number; bytesOut: number } {
    const total = { ...this.releasedLedger };
    for (const session of this.compiled) {
      const { runs, bytesIn, bytesOut } = session.ledger;
      total.runs += runs;
      total.bytesIn += bytesIn;
      total.bytesOut += bytesOut;
    }
    return total;
  }

  /** Zeroes the ledger. */
  resetLedger(): void {
    Object.assign(this.releasedLedger, { runs: 0, bytesIn: 0, bytesOut: 0 });
    for (const session of this.compiled) session.resetLedger();
  }

  async dispose(): Promise<void> {
    const sessions = [...this.sessions.values(), ...this.retired];
    this.sessions.clear();
    this.retired = [];
    this.compiled.length = 0;
    for (const session of sessions) await (await session).release();
  }
}
