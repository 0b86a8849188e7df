// Continuous batching with prefix (KV) reuse: requests join the running decode batch at any step
// and leave it the step they finish; a sequence paused at a stop keeps its KV cache under a
// session id, so a later turn prefills only the tokens appended to it (the information block).

import { createRng, InvalidInputError, type Rng, Sr1Error } from '@sr1/core';
import type { Tokenizer } from '@sr1/spec';
import type { DecoderConfig, ForwardInputs } from '../engine-types.js';
import { type KvBuffer, newKvBuffer, roomFor } from '../graphs/ort-decoder-runner.js';
import { earliestStop, type FinishReason, GenerationAbortedError } from './generate.js';
import { type SamplingOptions, type SamplingParams, sampleToken, samplingParams } from './sampling.js';

/**
 * What the scheduler needs from a runner: one forward over caller-owned cache buffers in the
 * static layout (`OrtDecoderRunner.runStatic`).
 */
export interface StaticCacheRunner {
  readonly config: DecoderConfig;
  /** The cache buffers' dtype (float16: Uint16Array bits, half the bytes). Absent: 'float32'. */
  readonly kvCacheDtype?: 'float32' | 'float16';
  runStatic(
    inputs: ForwardInputs,
    past: { keys: readonly KvBuffer[]; values: readonly KvBuffer[]; capacity: number } | undefined,
    lastOnly: boolean,
  ): Promise<{ logits: Float32Array; newKeys: KvBuffer[]; newValues: KvBuffer[] }>;
}

/** What the scheduler needs from a tokenizer: stop strings are matched on decoded text. */
export type SchedulerTokenizer = Pick<Tokenizer, 'eosTokenIds' | 'decode'>;

export interface SchedulerOptions {
  /** Most sequences decoded in one step (and admitted at once). */
  maxBatchSize?: number;
  /**
   * Prefill tokens run per step, over the sequences waiting to join (chunked prefill): bounds how
   * long the decoding rows wait for a long prompt or information block.
   */
  prefillTokensPerStep?: number;
  /**
   * Bytes of KV cache kept for paused sessions; beyond it the least recently used are dropped and
   * recomputed (one prefill over their whole context) when continued. Running rows always hold theirs.
   */
  kvBudgetBytes?: number;
  /**
   * A decode forward's cost that does not grow with the cache (reading the weights), in cache
   * slots of one row that attention reads in the same time. Rows of very different lengths decode
   * in separate groups, one forward each; a group merges into the next longer one while padding
   * its rows to that capacity costs fewer slots than this. Default: estimated from the config
   * (0.7 × weight floats / KV floats per slot, measured on the 25.2M bench model at 1 thread); 0
   * never merges.
   */
  forwardCostSlots?: number;
}

const DEFAULTS = {
  maxBatchSize: 64, // the rollout's batch of trajectories fits in one step
  prefillTokensPerStep: 512, // one reference-sized turn or information block per step
  kvBudgetBytes: 1 << 30, // 1 GiB of paused caches: thousands of turns of a small model
} satisfies Required<Omit<SchedulerOptions, 'forwardCostSlots'>>;

/** The sampling (temperature, topK, topP as `SamplingOptions`, as `generate`) and stopping of one turn. */
export interface TurnOptions extends SamplingOptions {
  /** Most tokens generated in this turn. */
  maxNewTokens: number;
  /** The turn stops after the token whose decoding completes one of these (kept in the output). */
  stop?: readonly string[];
  /** Default: the tokenizer's and the config's eos ids. */
  eosTokenIds?: readonly number[];
  /** Seeds this turn's sampling (default: the session's generator continues; a new session uses 0). */
  seed?: number;
  /** An aborted signal ends the turn with GenerationAbortedError and releases the session. */
  signal?: AbortSignal;
  /** Called after every sampled token. */
  onToken?: (tokenId: number) => void;
}

export interface StartOptions extends TurnOptions {
  /** Keep the KV cache after the turn so `continue` prefills only what is appended (default true). */
  keepCache?: boolean;
}

/** One generated turn; token ids and log-probs exactly as `generate` returns them. */
export interface TurnResult {
  tokenIds: number[];
  /** decode(tokenIds) without a final EOS token. */
  text: string;
  /** log π(token | prefix) under softmax(logits / temperature) (greedy: temperature 1). */
  logprobs: number[];
  finishReason: FinishReason;
  stopString?: string;
  /** Context tokens this turn ran through prefill (appended tokens, or the whole context after an eviction). */
  prefilledTokens: number;
  /** Context tokens whose cached KV this turn reused. */
  reusedTokens: number;
}

/** A session id that does not exist (never started, released, or ended by an abort). */
export class UnknownSessionError extends Sr1Error {
  constructor(session: number) {
    super('unknown_session', `no session ${session}: it was released, aborted or never started`);
  }
}

/** `continue` on a session whose previous turn has not finished. */
export class SessionBusyError extends Sr1Error {
  constructor(session: number) {
    super('session_busy', `session ${session} is still generating; await its turn before continuing it`);
  }
}

/** Counters since the scheduler was made. */
export interface SchedulerStats {
  steps: number;
  decodeSteps: number;
  /** Forwards run by decode steps: more than `decodeSteps` where rows decoded in several groups. */
  decodeForwards: number;
  /** Tokens run through prefill (prompts, appended tokens, recomputed evicted contexts). */
  prefillTokens: number;
  decodedTokens: number;
  /** Context tokens served from a kept cache instead of being prefilled again. */
  reusedTokens: number;
  evictions: number;
  /** Tokens prefilled again because their session's cache had been evicted. */
  recomputedTokens: number;
  /** Bytes of KV cache held now by paused sessions. */
  parkedBytes: number;
  /** Largest decode batch so far. */
  maxBatch: number;
}

/** A sequence's own cache, (kvHeads, capacity, headDim) per layer, when it is not in the batch. */
interface OwnCache {
  keys: KvBuffer[];
  values: KvBuffer[];
  capacity: number;
}

interface PreparedTurn {
  params: SamplingParams;
  stops: string[];
  stopWindow: number;
  eos: Set<number>;
  maxNewTokens: number;
  signal?: AbortSignal;
  onToken?: (tokenId: number) => void;
}

interface Turn extends PreparedTurn {
  rng: Rng;
  generated: number[];
  logprobs: number[];
  finish?: FinishReason;
  stopString?: string;
  prefilled: number;
  reused: number;
  /** The session's cache had been evicted: this turn's prefill recomputes it. */
  recompute: boolean;
  resolve: (result: TurnResult) => void;
  reject: (error: unknown) => void;
}

interface Sequence {
  id: number;
  /** The whole context: prompt, generated and appended tokens. */
  tokens: number[];
  /** tokens[0, cached) have KV entries (in `own` or in the batch); the rest are pending. */
  cached: number;
  own?: OwnCache;
  /** Its decode group while it decodes (its cache is then there, not in `own`). */
  group?: DecodeGroup;
  /** Its row in the group's buffers. */
  slot?: number;
  /** Where the sequence is: paused (no turn), queued/prefilling, or in the decode batch. */
  place: 'paused' | 'prefill' | 'decode';
  keepCache: boolean;
  rng: Rng;
  turn?: Turn;
  lastUsed: number;
  evicted: boolean;
}

/**
 * Decoding rows of similar lengths: buffers of `rows` rows of `capacity` slots, of which the first
 * `slots.length` rows (a prefix of the buffers) run in one forward, null where a sequence left.
 * Attention reads every slot of every row, so rows of very different lengths decode in different
 * groups (one forward each) rather than all padded to the longest.
 */
interface DecodeGroup {
  keys: KvBuffer[];
  values: KvBuffer[];
  capacity: number;
  rows: number;
  slots: (Sequence | null)[];
}

/** What `prepareGroups` decides for one group: its capacity and rows. */
interface GroupPlan {
  from?: DecodeGroup;
  capacity: number;
  members: Sequence[];
}

/**
 * Runs many sequences through one decoder with continuous batching. Each step: the sequences that
 * wait to join are prefilled, up to `prefillTokensPerStep` tokens (a long context is prefilled in
 * chunks over several steps); then every decoding row advances by one token, one forward per group
 * of rows of similar lengths (`DecodeGroup`). Rows of different lengths share a group: each keeps its
 * entries in its own slots and the attention mask hides the rest, so a row's numbers are those of
 * running it alone (up to float summation order).
 */
export class ContinuousBatchScheduler {
  private readonly options: Required<Omit<SchedulerOptions, 'forwardCostSlots'>>;
  private readonly sequences = new Map<number, Sequence>();
  private readonly waiting: Sequence[] = [];
  private prefilling: Sequence[] = [];
  private rows: Sequence[] = [];
  /** The decoding rows, in groups of similar lengths (see `DecodeGroup`). */
  private groups: DecodeGroup[] = [];
  /**
   * A forward's cost that does not grow with the cache (reading the weights), in cache slots of
   * one row that attention reads in the same time: a group is merged into a longer one when its
   * rows' extra padding there costs less than its own forward.
   */
  private readonly forwardSlots: number;
  private nextId = 1;
  private clock = 0;
  private loop: Promise<void> | null = null;
  private readonly counters: Omit<SchedulerStats, 'parkedBytes'> = {
    steps: 0,
    decodeSteps: 0,
    decodeForwards: 0,
    prefillTokens: 0,
    decodedTokens: 0,
    reusedTokens: 0,
    evictions: 0,
    recomputedTokens: 0,
    maxBatch: 0,
  };

  constructor(
    private readonly runner: StaticCacheRunner,
    private readonly tokenizer: SchedulerTokenizer,
    options: SchedulerOptions = {},
  ) {
    const { forwardCostSlots: _, ...rest } = options;
    this.options = { ...DEFAULTS, ...rest };
    for (const field of ['maxBatchSize', 'prefillTokensPerStep'] as const) {
      const value = this.options[field];
      if (!Number.isInteger(value) || value < 1)
        throw new InvalidInputError({ field: `scheduler.${field}`, reason: 'must be an integer ≥ 1' });
    }
    if (!(this.options.kvBudgetBytes >= 0))
      throw new InvalidInputError({ field: 'scheduler.kvBudgetBytes', reason: 'must be ≥ 0' });
    const c = runner.config;
    const heads = c.numAttentionHeads * c.headDim;
    const kv = c.numKeyValueHeads * c.headDim;
    const weightFloats =
      c.numHiddenLayers * (c.hiddenSize * (2 * heads + 2 * kv) + 3 * c.hiddenSize * c.intermediateSize) +
      c.vocabSize * c.hiddenSize;
    const slotFloats = c.numHiddenLayers * 2 * kv;
    // Measured on the 25.2M bench model (1 thread, ORT CPU): a forward's fixed cost ≈ attention
    // over 8,500 row-slots, about 0.7 × weight floats / KV floats per slot.
    this.forwardSlots = options.forwardCostSlots ?? Math.ceil((0.7 * weightFloats) / slotFloats);
    if (!(this.forwardSlots >= 0))
      throw new InvalidInputError({ field: 'scheduler.forwardCostSlots', reason: 'must be ≥ 0' });
  }

  /** Starts a session on `promptTokenIds` and generates its first turn. */
  async start(
    promptTokenIds: readonly number[],
    options: StartOptions,
  ): Promise<{ session: number; result: TurnResult }> {
    this.checkTokens(promptTokenIds, 'promptTokenIds', 1);
    if (promptTokenIds.length >= this.runner.config.maxPositionEmbeddings) {
      throw new InvalidInputError({
        field: 'promptTokenIds',
        reason: `prompt has ${promptTokenIds.length} tokens; the model holds at most ${this.runner.config.maxPositionEmbeddings} positions`,
      });
    }
    const turn = this.prepareTurn(options);
    const sequence: Sequence = {
      id: this.nextId++,
      tokens: [...promptTokenIds],
      cached: 0,
      place: 'paused',
      keepCache: options.keepCache ?? true,
      rng: createRng(options.seed ?? 0), // reproducible by default, as `generate`
      lastUsed: this.clock++,
      evicted: false,
    };
    this.sequences.set(sequence.id, sequence);
    const result = await this.enqueue(sequence, turn);
    return { session: sequence.id, result };
  }

  /**
   * Appends `appendTokenIds` to a paused session (after the last sampled token) and generates its
   * next turn; only the new tokens (and the last sampled one) are prefilled when its cache is kept.
   */
  async continue(
    session: number,
    appendTokenIds: readonly number[],
    options: TurnOptions,
  ): Promise<TurnResult> {
    const sequence = this.sequences.get(session);
    if (sequence === undefined) throw new UnknownSessionError(session);
    if (sequence.turn !== undefined) throw new SessionBusyError(session);
    this.checkTokens(appendTokenIds, 'appendTokenIds', 0);
    const turn = this.prepareTurn(options);
    const length = sequence.tokens.length + appendTokenIds.length;
    if (length >= this.runner.config.maxPositionEmbeddings) {
      throw new InvalidInputError({
        field: 'appendTokenIds',
        reason: `the context would hold ${length} tokens; the model holds at most ${this.runner.config.maxPositionEmbeddings} positions`,
      });
    }
    sequence.tokens.push(...appendTokenIds);
    if (options.seed !== undefined) sequence.rng = createRng(options.seed);
    return this.enqueue(sequence, turn);
  }

  /** Drops a paused session and its cache (a running turn is left to finish, then dropped). */
  release(session: number): void {
    const sequence = this.sequences.get(session);
    if (sequence === undefined) return;
    sequence.keepCache = false;
    if (sequence.turn === undefined) this.drop(sequence);
  }

  /** Sessions that exist (paused or running). */
  get sessionCount(): number {
    return this.sequences.size;
  }

  stats(): SchedulerStats {
    let parkedBytes = 0;
    for (const sequence of this.sequences.values())
      if (sequence.place === 'paused') parkedBytes += this.bytesOf(sequence.own);
    return { ...this.counters, parkedBytes };
  }

  /** Resolves once nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.loop !== null) await this.loop;
  }

  private checkTokens(ids: readonly number[], field: string, min: number): void {
    const vocab = this.runner.config.vocabSize;
    if (!Array.isArray(ids) || ids.length < min)
      throw new InvalidInputError({ field, reason: `needs at least ${min} token id(s)` });
    ids.forEach((id, position) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidInputError({
          field: `${field}[${position}]`,
          reason: `token id ${id} is outside the vocabulary [0, ${vocab})`,
        });
      }
    });
  }

  /** Validates a turn's options (before anything about the session changes). */
  private prepareTurn(options: TurnOptions): PreparedTurn {
    const params = samplingParams(options, 'turn');
    if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
      throw new InvalidInputError({ field: 'turn.maxNewTokens', reason: 'must be an integer ≥ 1' });
    }
    const stops = (options.stop ?? []).filter((stop) => stop.length > 0);
    return {
      params,
      stops,
      // long enough to hold any stop string even if some tokens decode to partial characters
      stopWindow: stops.length === 0 ? 0 : 4 * Math.max(...stops.map((stop) => stop.length)) + 4,
      eos: new Set(options.eosTokenIds ?? [...this.tokenizer.eosTokenIds, ...this.runner.config.eosTokenIds]),
      maxNewTokens: options.maxNewTokens,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.onToken !== undefined ? { onToken: options.onToken } : {}),
    };
  }

  private enqueue(sequence: Sequence, prepared: PreparedTurn): Promise<TurnResult> {
    return new Promise<TurnResult>((resolve, reject) => {
      sequence.turn = {
        ...prepared,
        rng: sequence.rng,
        generated: [],
        logprobs: [],
        prefilled: 0,
        reused: sequence.cached,
        recompute: sequence.evicted,
        resolve,
        reject,
      };
      sequence.evicted = false;
      sequence.place = 'prefill';
      sequence.lastUsed = this.clock++;
      this.waiting.push(sequence);
      this.kick();
    });
  }

  private kick(): void {
    if (this.loop !== null) return;
    this.loop = (async () => {
      try {
        while (this.waiting.length > 0 || this.prefilling.length > 0 || this.rows.length > 0) {
          try {
            await this.step();
          } catch (error) {
            this.failAll(error);
          }
          // Let requests, cancellations and other work on this thread in between steps.
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
      } finally {
        this.loop = null;
      }
    })();
  }

  private async step(): Promise<void> {
    this.counters.steps += 1;
    // Cancellations first: an aborted turn leaves wherever it is.
    for (const sequence of [...this.prefilling, ...this.rows, ...this.waiting]) {
      if (sequence.turn?.signal?.aborted) this.abort(sequence);
    }
    // Admit while there is room in the batch.
    while (this.waiting.length > 0 && this.prefilling.length + this.rows.length < this.options.maxBatchSize) {
      const sequence = this.waiting.shift()!;
      this.prefilling.push(sequence);
    }
    await this.prefillStep();
    await this.decodeStep();
  }

  /** Runs up to `prefillTokensPerStep` pending tokens of the sequences waiting to join. */
  private async prefillStep(): Promise<void> {
    let budget = this.options.prefillTokensPerStep;
    const done: Sequence[] = [];
    for (const sequence of this.prefilling) {
      const pending = sequence.tokens.length - sequence.cached;
      if (pending <= 1) {
        // One pending token is what a decode step feeds: join the batch directly.
        done.push(sequence);
        continue;
      }
      if (budget === 0) continue;
      // The chunk that completes the context also gives the first token's logits, as `generate`
      // samples it from its prefill.
      const chunk = Math.min(pending, budget);
      const logits = await this.prefillChunk(sequence, chunk);
      budget -= chunk;
      if (sequence.cached === sequence.tokens.length) {
        done.push(sequence);
        this.sample(sequence, logits);
      }
    }
    if (done.length === 0) return;
    this.prefilling = this.prefilling.filter((sequence) => !done.includes(sequence));
    for (const sequence of done) {
      if (sequence.turn?.finish !== undefined) this.finishTurn(sequence);
      else {
        sequence.place = 'decode';
        this.rows.push(sequence);
      }
    }
  }

  /** Prefills the next `chunk` pending tokens of one sequence into its own cache; last-position logits. */
  private async prefillChunk(sequence: Sequence, chunk: number): Promise<Float32Array> {
    const { numHiddenLayers: layers } = this.runner.config;
    const start = sequence.cached;
    const end = start + chunk;
    if (start === 0) sequence.own = undefined;
    const own = sequence.own;
    const capacity = own?.capacity ?? 0;
    const inputIds = new BigInt64Array(chunk);
    const positionIds = new BigInt64Array(chunk);
    for (let i = 0; i < chunk; i++) {
      inputIds[i] = BigInt(sequence.tokens[start + i]!);
      positionIds[i] = BigInt(start + i);
    }
    const attentionMask = new BigInt64Array(capacity + chunk);
    attentionMask.fill(1n, 0, start);
    attentionMask.fill(1n, capacity);
    const out = await this.runner.runStatic(
      { inputIds, positionIds, attentionMask, batchSize: 1, newLength: chunk },
      own,
      true,
    );
    let target = own;
    if (target === undefined || target.capacity < end) {
      target = this.newOwn(roomFor(end));
      if (own !== undefined) this.copyRows(own, [0], target, start);
    }
    for (let layer = 0; layer < layers; layer++) {
      this.writeEntries(target.keys[layer]!, target.capacity, out.newKeys[layer]!, start, 0, chunk);
      this.writeEntries(target.values[layer]!, target.capacity, out.newValues[layer]!, start, 0, chunk);
    }
    sequence.own = target;
    sequence.cached = end;
    this.counters.prefillTokens += chunk;
    if (sequence.turn !== undefined) {
      sequence.turn.prefilled += chunk;
      if (sequence.turn.recompute) this.counters.recomputedTokens += chunk;
    }
    return out.logits;
  }

  /** Advances every decoding row by one token: one forward per decode group. */
  private async decodeStep(): Promise<void> {
    if (this.rows.length === 0) return;
    this.prepareGroups();
    const occupied: { sequence: Sequence; logits: Float32Array }[] = [];
    for (const group of this.groups) occupied.push(...(await this.decodeGroup(group)));
    this.counters.decodeForwards += this.groups.length;
    this.counters.decodeSteps += 1;
    this.counters.decodedTokens += occupied.length;
    this.counters.maxBatch = Math.max(this.counters.maxBatch, occupied.length);
    const finished: Sequence[] = [];
    for (const { sequence, logits } of occupied) {
      sequence.cached += 1;
      this.sample(sequence, logits);
      if (sequence.turn?.finish !== undefined) finished.push(sequence);
    }
    if (finished.length > 0) {
      for (const sequence of finished) this.leaveBatch(sequence);
      for (const sequence of finished) this.finishTurn(sequence);
    }
  }

  /** One forward over a group's rows; writes their new entries, returns each row's logits. */
  private async decodeGroup(group: DecodeGroup): Promise<{ sequence: Sequence; logits: Float32Array }[]> {
    const {
      numHiddenLayers: layers,
      vocabSize: vocab,
      numKeyValueHeads: kvHeads,
      headDim,
    } = this.runner.config;
    const size = group.slots.length; // every slot holds a row: prepareGroups compacts
    const capacity = group.capacity;
    const inputIds = new BigInt64Array(size);
    const positionIds = new BigInt64Array(size);
    const attentionMask = new BigInt64Array(size * (capacity + 1));
    group.slots.forEach((sequence, b) => {
      const base = b * (capacity + 1);
      attentionMask[base + capacity] = 1n;
      if (sequence === null) return;
      inputIds[b] = BigInt(sequence.tokens[sequence.cached]!);
      positionIds[b] = BigInt(sequence.cached);
      attentionMask.fill(1n, base, base + sequence.cached);
    });
    // The first `size` rows of the buffers: (size, kvHeads, capacity, headDim) views, no copy.
    const used = size * kvHeads * capacity * headDim;
    const out = await this.runner.runStatic(
      { inputIds, positionIds, attentionMask, batchSize: size, newLength: 1 },
      {
        keys: group.keys.map((buffer) => buffer.subarray(0, used)),
        values: group.values.map((buffer) => buffer.subarray(0, used)),
        capacity,
      },
      true,
    );
    const occupied = group.slots.flatMap((sequence, b) => (sequence === null ? [] : [{ sequence, b }]));
    for (let layer = 0; layer < layers; layer++) {
      for (const { sequence, b } of occupied) {
        this.writeEntries(group.keys[layer]!, capacity, out.newKeys[layer]!, sequence.cached, b, 1);
        this.writeEntries(group.values[layer]!, capacity, out.newValues[layer]!, sequence.cached, b, 1);
      }
    }
    return occupied.map(({ sequence, b }) => ({
      sequence,
      logits: out.logits.subarray(b * vocab, (b + 1) * vocab),
    }));
  }

  /** Samples the next token of a sequence's turn from its last-position logits, (vocab). */
  private sample(sequence: Sequence, logits: Float32Array): void {
    const turn = sequence.turn!;
    const { tokenId, logprob } = sampleToken(logits, turn.params, turn.rng);
    sequence.tokens.push(tokenId);
    turn.generated.push(tokenId);
    turn.logprobs.push(logprob);
    turn.onToken?.(tokenId);
    if (turn.eos.has(tokenId)) {
      turn.finish = 'eos';
      return;
    }
    if (turn.stops.length > 0) {
      const tail = this.tokenizer.decode(turn.generated.slice(-turn.stopWindow));
      const hit = earliestStop(tail, turn.stops);
      if (hit !== undefined) {
        turn.finish = 'stop';
        turn.stopString = hit;
        return;
      }
    }
    if (
      turn.generated.length >= turn.maxNewTokens ||
      sequence.tokens.length >= this.runner.config.maxPositionEmbeddings
    ) {
      turn.finish = 'length';
    }
  }

  /** Takes a row out of the decode batch, keeping its cache in its own buffers if asked. */
  private leaveBatch(sequence: Sequence): void {
    const group = sequence.group;
    if (group !== undefined && sequence.slot !== undefined) {
      // Its cache is in the group (a row that joined this step still has its own).
      if (sequence.keepCache) {
        const own = this.newOwn(roomFor(sequence.cached + 1));
        this.copyRows(group, [sequence.slot], own, sequence.cached);
        sequence.own = own;
      } else {
        sequence.own = undefined;
        sequence.cached = 0;
      }
      group.slots[sequence.slot] = null;
    }
    sequence.group = undefined;
    sequence.slot = undefined;
    this.rows = this.rows.filter((row) => row !== sequence);
  }

  private finishTurn(sequence: Sequence): void {
    const turn = sequence.turn!;
    sequence.turn = undefined;
    sequence.place = 'paused';
    sequence.lastUsed = this.clock++;
    const visible =
      turn.finish === 'eos' &&
      turn.generated.length > 0 &&
      turn.eos.has(turn.generated[turn.generated.length - 1]!)
        ? turn.generated.slice(0, -1)
        : turn.generated;
    const result: TurnResult = {
      tokenIds: turn.generated,
      text: this.tokenizer.decode(visible),
      logprobs: turn.logprobs,
      finishReason: turn.finish ?? 'length',
      ...(turn.stopString !== undefined ? { stopString: turn.stopString } : {}),
      prefilledTokens: turn.prefilled,
      reusedTokens: turn.reused,
    };
    this.counters.reusedTokens += turn.reused;
    if (!sequence.keepCache) this.drop(sequence);
    else this.evict();
    turn.resolve(result);
  }

  private abort(sequence: Sequence): void {
    const turn = sequence.turn!;
    sequence.keepCache = false;
    if (sequence.place === 'decode') this.leaveBatch(sequence);
    this.prefilling = this.prefilling.filter((row) => row !== sequence);
    const waiting = this.waiting.indexOf(sequence);
    if (waiting >= 0) this.waiting.splice(waiting, 1);
    sequence.turn = undefined;
    this.drop(sequence);
    turn.reject(new GenerationAbortedError());
  }

  private failAll(error: unknown): void {
    const all = [...this.waiting, ...this.prefilling, ...this.rows];
    this.waiting.length = 0;
    this.prefilling = [];
    this.rows = [];
    this.groups = [];
    for (const sequence of all) {
      sequence.group = undefined;
      sequence.slot = undefined;
      const turn = sequence.turn;
      sequence.turn = undefined;
      this.drop(sequence);
      turn?.reject(error);
    }
  }

  private drop(sequence: Sequence): void {
    sequence.own = undefined;
    this.sequences.delete(sequence.id);
  }

  /** Drops the least recently used paused caches while they hold more than the budget. */
  private evict(): void {
    const paused = [...this.sequences.values()].filter(
      (sequence) => sequence.place === 'paused' && sequence.own !== undefined,
    );
    let bytes = paused.reduce((sum, sequence) => sum + this.bytesOf(sequence.own), 0);
    if (bytes <= this.options.kvBudgetBytes) return;
    paused.sort((a, b) => a.lastUsed - b.lastUsed);
    for (const sequence of paused) {
      if (bytes <= this.options.kvBudgetBytes) break;
      bytes -= this.bytesOf(sequence.own);
      sequence.own = undefined;
      sequence.cached = 0; // recompute on the next turn
      sequence.evicted = true;
      this.counters.evictions += 1;
    }
  }

  private bytesOf(own: OwnCache | undefined): number {
    if (own === undefined) return 0;
    return own.keys.reduce((sum, buffer) => sum + buffer.byteLength, 0) * 2;
  }

  /**
   * Gives every decoding row a slot with room for one more token, in a group of rows of similar
   * lengths. A group keeps its buffers while its rows fit: a joining row takes a free slot (only
   * its own cache is copied in) and a row past the end moves into one, so no forward computes idle
   * rows. A group is rebuilt (its rows copied) when a row outgrows its capacity, its capacity is
   * over twice what its longest row needs, or its rows outgrow (or far exceed) those allocated. A
   * joining row goes to the shortest group with room whose capacity is at most twice what it needs,
   * else starts a group; a group merges into the next longer one when padding its rows to that
   * capacity costs less than its own forward (`forwardSlots`).
   */
  private prepareGroups(): void {
    const needs = (sequence: Sequence) => sequence.cached + 1;
    const longest = (members: readonly Sequence[]) => Math.max(...members.map(needs));
    const plans: GroupPlan[] = this.groups.map((group) => ({
      from: group,
      capacity: group.capacity,
      members: group.slots.filter((sequence): sequence is Sequence => sequence !== null),
    }));
    // Outgrown or over-roomy groups take the capacity their longest row needs.
    for (const plan of plans) {
      if (plan.members.length === 0) continue;
      const needed = longest(plan.members);
      if (plan.capacity < needed || plan.capacity > 2 * roomFor(needed)) plan.capacity = roomFor(needed);
    }
    // Joining rows, longest first, into the shortest group that fits them without too much padding.
    const joining = this.rows
      .filter((sequence) => sequence.group === undefined)
      .sort((a, b) => needs(b) - needs(a));
    for (const sequence of joining) {
      const needed = needs(sequence);
      let best: GroupPlan | undefined;
      for (const plan of plans) {
        if (plan.members.length === 0 && plan.from !== undefined) continue;
        if (plan.capacity < needed || plan.capacity > 2 * roomFor(needed)) continue;
        if (best === undefined || plan.capacity < best.capacity) best = plan;
      }
      if (best === undefined) {
        best = { capacity: roomFor(needed), members: [] };
        plans.push(best);
      }
      best.members.push(sequence);
    }
    // Merge a group into the next longer one where its padding there costs less than its forward.
    const live = plans.filter((plan) => plan.members.length > 0).sort((a, b) => a.capacity - b.capacity);
    for (let i = 0; i + 1 < live.length; i++) {
      const short = live[i]!;
      const long = live[i + 1]!;
      if (short.members.length * (long.capacity - short.capacity) < this.forwardSlots) {
        long.members.unshift(...short.members);
        short.members = [];
      }
    }
    // Rows that change group leave theirs first (into their own buffers), so no copy reads a slot
    // another has overwritten.
    const kept = live.filter((plan) => plan.members.length > 0);
    for (const plan of kept) {
      for (const sequence of plan.members) {
        if (sequence.group !== undefined && sequence.group !== plan.from) {
          const own = this.newOwn(roomFor(sequence.cached + 1));
          this.copyRows(sequence.group, [sequence.slot!], own, sequence.cached);
          sequence.own = own;
          sequence.group = undefined;
          sequence.slot = undefined;
        }
      }
    }
    this.groups = kept.map((plan) => this.materialize(plan));
  }

  /** Puts a planned group's rows into its slots, reusing its buffers where they fit. */
  private materialize(plan: GroupPlan): DecodeGroup {
    const count = plan.members.length;
    const old = plan.from;
    if (
      old !== undefined &&
      old.capacity === plan.capacity &&
      old.rows >= count &&
      old.rows <= 4 * this.rowsFor(count)
    ) {
      const slots: (Sequence | null)[] = new Array<Sequence | null>(count).fill(null);
      const moving: Sequence[] = [];
      for (const sequence of plan.members) {
        if (sequence.group === old && sequence.slot! < count) slots[sequence.slot!] = sequence;
        else moving.push(sequence);
      }
      let hole = 0;
      for (const sequence of moving) {
        while (slots[hole] !== null) hole++;
        if (sequence.group === old) this.copyRows(old, [sequence.slot!], old, sequence.cached, hole);
        else if (sequence.own !== undefined && sequence.cached > 0)
          this.copyRows(sequence.own, [0], old, sequence.cached, hole);
        sequence.own = undefined; // its cache lives in the group now
        sequence.group = old;
        sequence.slot = hole;
        slots[hole] = sequence;
      }
      old.slots = slots;
      return old;
    }
    const rows = this.rowsFor(count);
    const fresh: DecodeGroup = { ...this.newBatch(rows, plan.capacity), rows, slots: [...plan.members] };
    plan.members.forEach((sequence, index) => {
      if (sequence.group !== undefined) {
        this.copyRows(sequence.group, [sequence.slot!], fresh, sequence.cached, index);
      } else if (sequence.own !== undefined && sequence.cached > 0) {
        this.copyRows(sequence.own, [0], fresh, sequence.cached, index);
      }
    });
    plan.members.forEach((sequence, index) => {
      sequence.own = undefined;
      sequence.group = fresh;
      sequence.slot = index;
    });
    return fresh;
  }

  /** Rows to allocate for `count` decoding rows: the next power of two, at most the batch limit. */
  private rowsFor(count: number): number {
    return Math.max(count, Math.min(this.options.maxBatchSize, 2 ** Math.ceil(Math.log2(count))));
  }

  private newOwn(capacity: number): OwnCache {
    return this.newBatch(1, capacity);
  }

  private newBatch(rows: number, capacity: number): OwnCache {
    const { numKeyValueHeads: kvHeads, headDim, numHiddenLayers: layers } = this.runner.config;
    const size = rows * kvHeads * capacity * headDim;
    const dtype = this.runner.kvCacheDtype ?? 'float32';
    const make = () => Array.from({ length: layers }, () => newKvBuffer(size, dtype));
    return { keys: make(), values: make(), capacity };
  }

  /**
   * Copies the first `length` slots of the given source rows into consecutive target rows from
   * `targetRow`, every layer, keys and values.
   */
  private copyRows(
    source: OwnCache,
    rows: readonly number[],
    target: OwnCache,
    length: number,
    targetRow = 0,
  ): void {
    const { numKeyValueHeads: kvHeads, headDim } = this.runner.config;
    const span = length * headDim;
    const copy = (from: KvBuffer, to: KvBuffer) => {
      rows.forEach((row, i) => {
        for (let head = 0; head < kvHeads; head++) {
          const at = (row * kvHeads + head) * source.capacity * headDim;
          to.set(
            from.subarray(at, at + span),
            ((targetRow + i) * kvHeads + head) * target.capacity * headDim,
          );
        }
      });
    };
    source.keys.forEach((buffer, layer) => {
      copy(buffer, target.keys[layer]!);
    });
    source.values.forEach((buffer, layer) => {
      copy(buffer, target.values[layer]!);
    });
  }

  /**
   * Writes row `row`'s new entries, from (batch, kvHeads, newLength, headDim), into its slots
   * [at, at + newLength) of row `row` of a (batch, kvHeads, capacity, headDim) buffer.
   */
  private writeEntries(
    target: KvBuffer,
    capacity: number,
    entries: KvBuffer,
    at: number,
    row: number,
    newLength: number,
  ): void {
    const { numKeyValueHeads: kvHeads, headDim } = this.runner.config;
    const span = newLength * headDim;
    for (let head = 0; head < kvHeads; head++) {
      const block = row * kvHeads + head;
      target.set(entries.subarray(block * span, (block + 1) * span), (block * capacity + at) * headDim);
    }
  }
}
