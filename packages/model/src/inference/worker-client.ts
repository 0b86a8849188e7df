// The engine off the main thread: `EngineWorker` starts a worker_thread that owns the ORT
// sessions and forwards generation, scoring and scheduled session turns to it, so the main
// thread's event loop stays responsive while a batch decodes. Cancellation is by AbortSignal.
//
// Weights and policy versions: the worker loads its weights once — from a model folder, or from
// SharedArrayBuffer-backed tensors (`shareWeights`) that a trainer on the main thread updates in
// place. onnxruntime-node cannot read shared memory, so the worker keeps its own snapshot and
// refreshes it only when told: `setPolicyVersion(v)` copies the shared weights once (not per
// call), between two forward passes, and resolves when the copy is done. Until then the trainer
// must not write them. Every forward pass runs on one snapshot; a turn in flight during the
// switch continues on the new version, and a continued session reuses KV computed by the old one
// (release sessions across a version change to recompute them).

import { MessageChannel, type MessagePort, type TransferListItem, Worker } from 'node:worker_threads';
import { InvalidInputError, Sr1Error } from '@sr1/core';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { checkPrecision, type Precision } from '../graphs/precision.js';
import { type GeneratedSequence, GenerationAbortedError } from './generate.js';
import type { SchedulerOptions, SchedulerStats, StartOptions, TurnOptions, TurnResult } from './scheduler.js';
import { SessionBusyError, UnknownSessionError } from './scheduler.js';
import type { ScoredSequence, ScoreOptions } from './score.js';
import { isShared } from './shared-weights.js';
import type {
  ClientMessage,
  EngineWorkerData,
  WireError,
  WireGenerateOptions,
  WorkerMessage,
} from './worker-protocol.js';

/** An error thrown inside the engine worker, rebuilt on the main thread with the same code. */
export class EngineWorkerError extends Sr1Error {
  /** The error's class name inside the worker. */
  readonly remoteName: string;
  constructor(error: WireError) {
    super(error.code, error.message);
    this.remoteName = error.name;
  }
}

export interface EngineWorkerOptions {
  /** An HF model folder (config, safetensors, tokenizer): the worker reads it itself. */
  modelDir?: string;
  /**
   * Or: a config and SharedArrayBuffer-backed weights (`shareWeights`), with the tokenizer's folder.
   * The worker snapshots them at start and on `setPolicyVersion`.
   */
  shared?: { config: DecoderConfig; weights: WeightMap; tokenizerDir: string };
  device?: 'cpu' | 'cuda';
  /** Intra-op threads of the worker's ORT sessions (default: ORT's choice). */
  threads?: number;
  fused?: boolean;
  /**
   * How the worker's runner holds the weights (`OrtDecoderRunner`'s option): 'initializers' is the
   * faster decode (pre-packed MatMuls); with shared weights, each `setPolicyVersion` recompiles
   * the sessions in use around the new snapshot.
   */
  weightsAs?: 'inputs' | 'initializers';
  /** Compute precision of the worker's runner (`OrtDecoderRunner`'s option). Default 'float32'. */
  precision?: Precision;
  scheduler?: SchedulerOptions;
  /**
   * The worker's script. Default: `engine-worker.js` next to this package's built `index.js`.
   * Tests running from the TypeScript sources pass a bundled copy.
   */
  workerUrl?: URL;
}

/** Generate options for the worker: `GenerateOptions` without an Rng object (give a seed). */
export type WorkerGenerateOptions = WireGenerateOptions & {
  onToken?: (sequence: number, tokenId: number) => void;
  signal?: AbortSignal;
  /**
   * Per-prompt signals, as `generate`'s: an aborted one stops its row in the worker at the next
   * decode step (finishReason 'length') and the others go on — a server whose client disconnects
   * stops that client's sequences only.
   */
  sequenceSignals?: readonly (AbortSignal | undefined)[];
};

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  onToken?: (sequence: number, tokenId: number) => void;
}

/** The default worker script: in the built package it sits at dist/inference/engine-worker.js. */
export function defaultWorkerUrl(): URL {
  return new URL('./inference/engine-worker.js', import.meta.url);
}

function rebuild(error: WireError): Error {
  if (error.code === 'generation_aborted') return new GenerationAbortedError();
  return new EngineWorkerError(error);
}

/**
 * The engine in a worker_thread behind an async API: `generate` and `score` as `@sr1/model`'s
 * functions compute them, and session turns through a `ContinuousBatchScheduler` (`start`,
 * `continue`, `release`), which batches concurrent requests.
 */
export class EngineWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    readonly config: DecoderConfig,
    readonly eosTokenIds: readonly number[],
  ) {
    worker.on('message', (message: WorkerMessage) => this.receive(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => {
      if (!this.closed)
        this.failAll(new Sr1Error('engine_worker_exited', `the engine worker exited with code ${code}`));
    });
  }

  /** Starts the worker and waits until its model is loaded and its first session compiled. */
  static async start(options: EngineWorkerOptions): Promise<EngineWorker> {
    checkPrecision(options.precision ?? 'float32', options.device ?? 'cpu'); // before a thread starts
    const model = EngineWorker.source(options);
    const data: EngineWorkerData = {
      model,
      runner: {
        ...(options.device !== undefined ? { device: options.device } : {}),
        ...(options.threads !== undefined ? { threads: options.threads } : {}),
        ...(options.fused !== undefined ? { fused: options.fused } : {}),
        ...(options.weightsAs !== undefined ? { weightsAs: options.weightsAs } : {}),
        ...(options.precision !== undefined ? { precision: options.precision } : {}),
      },
      scheduler: options.scheduler ?? {},
    };
    // execArgv: the parent's flags (a test runner's loaders, for one) are not the worker's business
    const worker = new Worker(options.workerUrl ?? defaultWorkerUrl(), { workerData: data, execArgv: [] });
    const listeners: {
      message?: (message: WorkerMessage) => void;
      error?: (error: Error) => void;
      exit?: (code: number) => void;
    } = {};
    const ready = await new Promise<Extract<WorkerMessage, { type: 'ready' }>>((resolve, reject) => {
      listeners.message = (message: WorkerMessage) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'init-error') reject(rebuild(message.error));
      };
      listeners.error = reject;
      listeners.exit = (code: number) =>
        reject(
          new Sr1Error('engine_worker_exited', `the engine worker exited with code ${code} while starting`),
        );
      worker.on('message', listeners.message);
      worker.on('error', listeners.error);
      worker.on('exit', listeners.exit);
    })
      .catch(async (error: unknown) => {
        await worker.terminate();
        throw error;
      })
      .finally(() => {
        // Only ours: removeAllListeners would also drop the Worker's own hooks that start its port.
        worker.off('message', listeners.message!);
        worker.off('error', listeners.error!);
        worker.off('exit', listeners.exit!);
      });
    return new EngineWorker(worker, ready.config, ready.eosTokenIds);
  }

  private static source(options: EngineWorkerOptions): EngineWorkerData['model'] {
    if ((options.modelDir === undefined) === (options.shared === undefined)) {
      throw new InvalidInputError({
        field: 'EngineWorker.start',
        reason: 'needs exactly one of modelDir and shared',
      });
    }
    if (options.modelDir !== undefined) return { kind: 'folder', dir: options.modelDir };
    const { config, weights, tokenizerDir } = options.shared!;
    if (!isShared(weights)) {
      throw new InvalidInputError({
        field: 'shared.weights',
        reason: 'must be SharedArrayBuffer-backed (make them with shareWeights)',
      });
    }
    return {
      kind: 'shared',
      config,
      tokenizerDir,
      weights: [...weights].map(([name, tensor]) => ({ name, shape: tensor.shape, data: tensor.data })),
    };
  }

  /** Batched generation, exactly as `generate(runner, tokenizer, prompts, options)` on the worker's runner. */
  generate(
    prompts: readonly (readonly number[])[],
    options: WorkerGenerateOptions,
  ): Promise<GeneratedSequence[]> {
    const { onToken, signal, sequenceSignals, ...wireOptions } = options;
    return this.request(
      (id) => ({
        type: 'generate',
        id,
        prompts: prompts.map((prompt) => [...prompt]),
        options: wireOptions,
        stream: onToken !== undefined,
        abortedSequences: (sequenceSignals ?? []).flatMap((sequenceSignal, sequence) =>
          sequenceSignal?.aborted ? [sequence] : [],
        ),
      }),
      signal,
      onToken,
      sequenceSignals,
    ) as Promise<GeneratedSequence[]>;
  }

  /** Per-token log-probs and entropies, as `scoreSequences`. */
  score(sequences: readonly (readonly number[])[], options: ScoreOptions = {}): Promise<ScoredSequence[]> {
    return this.request((id) => ({
      type: 'score',
      id,
      sequences: sequences.map((sequence) => [...sequence]),
      options,
    })) as Promise<ScoredSequence[]>;
  }

  /** `ContinuousBatchScheduler.start` in the worker. */
  async start(
    promptTokenIds: readonly number[],
    options: StartOptions,
  ): Promise<{ session: number; result: TurnResult }> {
    const { onToken, signal, ...wireOptions } = options;
    return (await this.request(
      (id) => ({
        type: 'start',
        id,
        promptTokenIds: [...promptTokenIds],
        options: wireOptions,
        stream: onToken !== undefined,
      }),
      signal,
      onToken === undefined ? undefined : (_sequence, tokenId) => onToken(tokenId),
    )) as { session: number; result: TurnResult };
  }

  /** `ContinuousBatchScheduler.continue` in the worker. */
  async continue(
    session: number,
    appendTokenIds: readonly number[],
    options: TurnOptions,
  ): Promise<TurnResult> {
    const { onToken, signal, ...wireOptions } = options;
    try {
      return (await this.request(
        (id) => ({
          type: 'continue',
          id,
          session,
          appendTokenIds: [...appendTokenIds],
          options: wireOptions,
          stream: onToken !== undefined,
        }),
        signal,
        onToken === undefined ? undefined : (_sequence, tokenId) => onToken(tokenId),
      )) as TurnResult;
    } catch (error) {
      if (error instanceof EngineWorkerError && error.code === 'unknown_session')
        throw new UnknownSessionError(session);
      if (error instanceof EngineWorkerError && error.code === 'session_busy')
        throw new SessionBusyError(session);
      throw error;
    }
  }

  /** `ContinuousBatchScheduler.release` in the worker. */
  release(session: number): void {
    if (!this.closed) this.post({ type: 'release', session });
  }

  /**
   * Takes a new snapshot of the shared weights in the worker (a `shared` start only) and tags
   * later work with `version`. Resolves once the copy is done: do not write the weights before.
   */
  async setPolicyVersion(version: number): Promise<void> {
    await this.request((id) => ({ type: 'policy', id, version }));
  }

  /** The worker's scheduler counters and current policy version. */
  stats(): Promise<SchedulerStats & { policyVersion: number }> {
    return this.request((id) => ({ type: 'stats', id })) as Promise<
      SchedulerStats & { policyVersion: number }
    >;
  }

  /**
   * Hosts training in the worker's thread: a new channel, one end of which the worker serves
   * training requests on (as a train worker's thread does); returns the other end once it does.
   * `TrainWorker.over(engine)` runs over it, so one thread hosts generation and training.
   */
  async attachTraining(): Promise<MessagePort> {
    const { port1, port2 } = new MessageChannel();
    try {
      await this.request(
        (id) => ({ type: 'attach-training', id, port: port2 }),
        undefined,
        undefined,
        undefined,
        [port2],
      );
    } catch (error) {
      port1.close();
      throw error;
    }
    return port1;
  }

  /** The id of the worker's thread (`threadId` of node:worker_threads, as the worker reads it). */
  async thread(): Promise<number> {
    return (await this.request((id) => ({ type: 'thread', id }))) as number;
  }

  /** Stops the worker; requests still pending reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new Sr1Error('engine_worker_closed', 'the engine worker was closed'));
    await this.worker.terminate();
  }

  private post(message: ClientMessage, transfer?: readonly TransferListItem[]): void {
    this.worker.postMessage(message, transfer);
  }

  private request(
    message: (id: number) => ClientMessage,
    signal?: AbortSignal,
    onToken?: (sequence: number, tokenId: number) => void,
    sequenceSignals?: readonly (AbortSignal | undefined)[],
    transfer?: readonly TransferListItem[],
  ): Promise<unknown> {
    if (this.closed)
      return Promise.reject(new Sr1Error('engine_worker_closed', 'the engine worker was closed'));
    if (signal?.aborted) return Promise.reject(new GenerationAbortedError());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.post({ type: 'cancel', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      // Each sequence's signal becomes a cancel-sequence message (signals cannot cross threads).
      const sequenceAborts = (sequenceSignals ?? []).map((sequenceSignal, sequence) => {
        if (sequenceSignal === undefined) return undefined;
        const onSequenceAbort = () => this.post({ type: 'cancel-sequence', id, sequence });
        return { sequenceSignal, onSequenceAbort };
      });
      const settle =
        <T>(fn: (value: T) => void) =>
        (value: T) => {
          signal?.removeEventListener('abort', onAbort);
          for (const entry of sequenceAborts)
            entry?.sequenceSignal.removeEventListener('abort', entry.onSequenceAbort);
          this.pending.delete(id);
          fn(value);
        };
      this.pending.set(id, {
        resolve: settle(resolve),
        reject: settle(reject),
        ...(onToken !== undefined ? { onToken } : {}),
      });
      this.post(message(id), transfer);
      // A sequence aborted already went with the request (generate's `abortedSequences`).
      for (const entry of sequenceAborts) {
        if (entry !== undefined && !entry.sequenceSignal.aborted)
          entry.sequenceSignal.addEventListener('abort', entry.onSequenceAbort, { once: true });
      }
    });
  }

  private receive(message: WorkerMessage): void {
    if (message.type === 'ready' || message.type === 'init-error') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    if (message.type === 'token') pending.onToken?.(message.sequence, message.tokenId);
    else if (message.type === 'result') pending.resolve(message.value);
    else pending.reject(rebuild(message.error));
  }

  private failAll(error: unknown): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
    this.pending.clear();
  }
}
