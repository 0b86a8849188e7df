// Training off the main thread: `WorkerTrainablePolicy` and `WorkerCritic` are @sr1/spec's
// `TrainablePolicy` with their ORT sessions in a worker_thread (`TrainWorker`), so the main
// thread's event loop runs while a forward or backward pass does (progress, retrieval, HTTP).
//
// - Weights: SharedArrayBuffer-backed (`shareWeights`). `parameters` are those shared buffers, so
//   @sr1/optim updates them in place on the main thread exactly as with `OrtTrainablePolicy`. The
//   worker copies them into its own buffers before every run (onnxruntime-node rejects shared
//   memory; see train-host.ts for the cost): do not write them while a run is pending.
// - Results: log-probs, entropies, values and gradients come back as transferred ArrayBuffers
//   (moved, not copied); batches and upstream gradients cross by structured clone.
// - Errors: an error thrown in the worker rejects with the same class where it is one of the
//   model's input errors (`DecoderInputError`, `WeightShapeError`), an `InvalidInputError` with the
//   same code for other bad input, else an `EngineWorkerError` with the same code.
// - Threads: one `TrainWorker` hosts any number of policies and critics (requests run one at a
//   time, in order). By default each `create` starts a worker of its own that `dispose` ends
//   (copies share it; it ends with the last); pass `worker` to share one between an actor, its
//   reference and its critic. `TrainWorker.over(engine)` hosts them in an `EngineWorker`'s thread
//   instead, beside generation: one worker thread per device.

import { type MessagePort, Worker } from 'node:worker_threads';
import type { Rng } from '@sr1/core';
import { InvalidInputError, Sr1Error } from '@sr1/core';
import type { PolicyForward, TensorBuffers, TokenBatch, TrainablePolicy, Upstream } from '@sr1/spec';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError, WeightShapeError } from '../errors.js';
import { isShared, shareWeights } from '../inference/shared-weights.js';
import { type EngineWorker, EngineWorkerError } from '../inference/worker-client.js';
import { OrtCritic } from './ort-critic.js';
import type { TrainLedger } from './train-sessions.js';
import type {
  TrainClientMessage,
  TrainModelKind,
  TrainWireError,
  TrainWorkerMessage,
} from './train-worker-protocol.js';
import type { OrtPolicyOptions } from './types.js';

/** The default worker script: in the built package it sits at dist/training/train-worker.js. */
export function defaultTrainWorkerUrl(): URL {
  return new URL('./training/train-worker.js', import.meta.url);
}

function rebuild(error: TrainWireError): Error {
  if (error.reason !== undefined) {
    if (error.code === 'decoder_input') return new DecoderInputError(error.field ?? 'input', error.reason);
    if (error.code === 'weight_shape')
      return new WeightShapeError(undefined, error.field ?? 'weights', error.reason);
    return new InvalidInputError({
      code: error.code,
      ...(error.field !== undefined ? { field: error.field } : {}),
      reason: error.reason,
    });
  }
  return new EngineWorkerError(error);
}

export interface TrainWorkerOptions {
  /**
   * The worker's script. Default: `train-worker.js` beside this package's built `index.js`.
   * Tests running from the TypeScript sources pass a bundled copy.
   */
  workerUrl?: URL;
}

interface Pending {
  resolve: (message: Extract<TrainWorkerMessage, { type: 'result' }>) => void;
  reject: (error: unknown) => void;
}

/**
 * What a `TrainWorker` needs of the way to its host: a `Worker` of its own, or a `MessagePort`
 * whose other end an engine worker's thread serves.
 */
interface TrainEndpoint {
  post(message: TrainClientMessage): void;
  ref(): void;
  unref(): void;
  /** Calls `receive` with each message; `fail` on an error, `ended` once the host is gone. */
  listen(
    receive: (message: TrainWorkerMessage) => void,
    fail: (error: unknown) => void,
    ended: (why: string) => void,
  ): void;
  /** Ends the connection: terminates the thread, or closes the port (the thread goes on). */
  end(): Promise<void>;
  readonly exited: Promise<number>;
}

function workerEndpoint(worker: Worker): TrainEndpoint {
  return {
    post: (message) => worker.postMessage(message),
    ref: () => worker.ref(),
    unref: () => worker.unref(),
    listen: (receive, fail, ended) => {
      worker.on('message', receive);
      worker.on('error', fail);
      worker.on('exit', (code) => ended(`the train worker exited with code ${code}`));
    },
    end: async () => {
      await worker.terminate();
    },
    exited: new Promise((resolve) => worker.once('exit', resolve)),
  };
}

function portEndpoint(port: MessagePort): TrainEndpoint {
  return {
    post: (message) => port.postMessage(message),
    ref: () => port.ref(),
    unref: () => port.unref(),
    listen: (receive, fail, ended) => {
      port.on('message', receive);
      port.on('messageerror', fail);
      port.on('close', () => ended('the train worker’s port closed (its engine worker ended)'));
    },
    end: async () => {
      // the host disposes this port's models when it sees the close
      port.close();
      await new Promise<void>((resolve) => port.once('close', () => resolve()));
    },
    exited: new Promise((resolve) => port.once('close', () => resolve(0))),
  };
}

/**
 * A worker_thread hosting trainable policies and critics: a thread of its own (`start`) or the
 * thread of an engine worker (`over`), so one thread per device runs every ORT session. Share it
 * between several models (`{ worker }` in their options); `close()` ends it, rejecting what is
 * pending.
 */
export class TrainWorker {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextHandle = 1;
  private closing = false;
  /** Live handles, when this worker ends with its last model (one started by `create`). */
  private readonly handles = new Set<number>();
  /**
   * Resolves with the thread's exit code once it has ended (1 after `close()`); for one over an
   * engine worker (`over`), with 0 once its port has closed (the engine's thread goes on).
   */
  readonly exited: Promise<number>;

  private constructor(
    private readonly endpoint: TrainEndpoint,
    private readonly closeWhenEmpty: boolean,
  ) {
    this.exited = endpoint.exited;
    endpoint.listen(
      (message) => this.receive(message),
      (error) => this.failAll(error),
      (why) => {
        if (!this.closing) this.failAll(new Sr1Error('train_worker_exited', why));
        this.closing = true;
      },
    );
    // An idle worker does not keep the process alive (a run that fails before `dispose` still
    // exits); one with a request pending does. (After the listeners: a port's refs itself.)
    endpoint.unref();
  }

  /** Starts the worker thread and waits until its script is loaded. */
  static async start(options: TrainWorkerOptions = {}): Promise<TrainWorker> {
    return TrainWorker.launch(options, false);
  }

  /**
   * Training in `engine`'s worker thread (`EngineWorker.attachTraining`): its models run there,
   * beside generation, one request at a time as in a thread of their own; a training run and a
   * decode step take turns (onnxruntime-node runs a session on the calling thread). `close()` disposes them
   * and closes the port; the engine worker goes on (close it after).
   */
  static async over(engine: EngineWorker): Promise<TrainWorker> {
    return new TrainWorker(portEndpoint(await engine.attachTraining()), false);
  }

  private static async launch(options: TrainWorkerOptions, closeWhenEmpty: boolean): Promise<TrainWorker> {
    // execArgv: the parent's flags (a test runner's loaders, for one) are not the worker's business
    const worker = new Worker(options.workerUrl ?? defaultTrainWorkerUrl(), { execArgv: [] });
    const listeners: {
      message?: (message: TrainWorkerMessage) => void;
      error?: (error: Error) => void;
      exit?: (code: number) => void;
    } = {};
    await new Promise<void>((resolve, reject) => {
      listeners.message = (message) => {
        if (message.type === 'ready') resolve();
      };
      listeners.error = reject;
      listeners.exit = (code) =>
        reject(
          new Sr1Error('train_worker_exited', `the train worker exited with code ${code} while starting`),
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
    return new TrainWorker(workerEndpoint(worker), closeWhenEmpty);
  }

  /** Whether the thread has been closed (or has exited). */
  get closed(): boolean {
    return this.closing;
  }

  /** Ends the thread; pending requests reject. Models it hosts cannot run afterwards. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.failAll(new Sr1Error('train_worker_closed', 'the train worker was closed'));
    await this.endpoint.end();
  }

  /** The id of the thread the models run in (`threadId` of node:worker_threads, as it reads it there). */
  async thread(): Promise<number> {
    return (await this.request((id) => ({ type: 'thread', id }))).value as number;
  }

  /** @internal Hosts a model; returns its handle. */
  async host(
    kind: TrainModelKind,
    config: DecoderConfig,
    weights: WeightMap,
    options: OrtPolicyOptions,
  ): Promise<number> {
    const handle = this.nextHandle++;
    this.handles.add(handle);
    try {
      await this.request((id) => ({
        type: 'create',
        id,
        handle,
        kind,
        config,
        weights: [...weights].map(([name, tensor]) => ({ name, shape: tensor.shape, data: tensor.data })),
        options: {
          ...(options.device !== undefined ? { device: options.device } : {}),
          ...(options.threads !== undefined ? { threads: options.threads } : {}),
          ...(options.precision !== undefined ? { precision: options.precision } : {}),
        },
      }));
    } catch (error) {
      await this.unhost(handle);
      throw error;
    }
    return handle;
  }

  /** @internal Disposes a hosted model (and ends the thread after the last, when it was started for it). */
  async unhost(handle: number): Promise<void> {
    if (!this.handles.delete(handle)) return;
    if (!this.closing) await this.request((id) => ({ type: 'dispose', id, handle }));
    if (this.closeWhenEmpty && this.handles.size === 0) await this.close();
  }

  /** @internal */
  post(message: TrainClientMessage): void {
    if (!this.closing) this.endpoint.post(message);
  }

  /** @internal One request and its result message. */
  request(
    message: (id: number) => TrainClientMessage,
  ): Promise<Extract<TrainWorkerMessage, { type: 'result' }>> {
    if (this.closing)
      return Promise.reject(new Sr1Error('train_worker_closed', 'the train worker was closed'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.endpoint.ref();
      this.pending.set(id, { resolve, reject });
      this.endpoint.post(message(id));
    });
  }

  /** @internal A worker of its own for `create` without `worker`: it ends with its last model. */
  static async own(options: TrainWorkerOptions): Promise<TrainWorker> {
    return TrainWorker.launch(options, true);
  }

  private receive(message: TrainWorkerMessage): void {
    if (message.type === 'ready') return;
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0) this.endpoint.unref();
    if (message.type === 'result') pending.resolve(message);
    else pending.reject(rebuild(message.error));
  }

  private failAll(error: unknown): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
    this.pending.clear();
    this.endpoint.unref();
  }
}

/** Options of a worker-hosted policy or critic: the sessions' options, and where they run. */
export interface WorkerPolicyOptions extends OrtPolicyOptions, TrainWorkerOptions {
  /** The thread to run in, shared with other models. Default: a thread of its own, ended by `dispose`. */
  worker?: TrainWorker;
}

const ZERO_LEDGER: TrainLedger = { runs: 0, bytesIn: 0, bytesOut: 0 };

/** What the worker-hosted policy and critic share: the thread, the handle, the ledger. */
abstract class WorkerHosted {
  readonly parameters: TensorBuffers;
  private lastLedger: TrainLedger = ZERO_LEDGER;
  private refreshed = 0;
  private disposed = false;

  protected constructor(
    readonly config: DecoderConfig,
    /** The shared weights (`parameters` are their buffers): save a checkpoint from these. */
    readonly weights: WeightMap,
    /** The thread the sessions run in. */
    readonly worker: TrainWorker,
    protected readonly handle: number,
    protected readonly options: WorkerPolicyOptions,
  ) {
    this.parameters = new Map([...weights].map(([name, tensor]) => [name, tensor.data]));
  }

  protected static async host(
    kind: TrainModelKind,
    config: DecoderConfig,
    sharedWeights: WeightMap,
    options: WorkerPolicyOptions,
  ): Promise<{ worker: TrainWorker; handle: number }> {
    if (!isShared(sharedWeights))
      throw new InvalidInputError({
        field: 'sharedWeights',
        reason: 'must be SharedArrayBuffer-backed (make them with shareWeights)',
      });
    const worker =
      options.worker ??
      (await TrainWorker.own(options.workerUrl !== undefined ? { workerUrl: options.workerUrl } : {}));
    try {
      return { worker, handle: await worker.host(kind, config, sharedWeights, options) };
    } catch (error) {
      if (options.worker === undefined) await worker.close();
      throw error;
    }
  }

  /**
   * Host↔device bytes of this model's runs (what a GPU run would copy), summed over its sessions in
   * the worker, as `OrtTrainablePolicy.ledger` counts them; updated when each run's result arrives.
   */
  get ledger(): TrainLedger {
    return { ...this.lastLedger };
  }

  /** Zeroes the ledger (in the worker too, in order with the runs). */
  resetLedger(): void {
    this.lastLedger = ZERO_LEDGER;
    this.worker.post({ type: 'reset-ledger', handle: this.handle });
  }

  /**
   * Bytes the worker copied from the shared weights into its own before the runs so far (the
   * weights' bytes per run; host memory to host memory, not in the ledger).
   */
  get refreshBytes(): number {
    return this.refreshed;
  }

  protected async run<T>(message: (id: number) => TrainClientMessage): Promise<T> {
    const result = await this.worker.request(message);
    if (result.ledger !== undefined) this.lastLedger = result.ledger;
    this.refreshed += result.refreshBytes ?? 0;
    return result.value as T;
  }

  /** Frees the sessions in the worker; a worker started for this model (and its copies) ends with the last. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.worker.unhost(this.handle);
  }

  /** `dispose()`. */
  close(): Promise<void> {
    return this.dispose();
  }
}

/**
 * `OrtTrainablePolicy` in a worker_thread: the same log-probs, entropies and gradients, bit for
 * bit at the same thread count, while the main thread's event loop keeps running.
 */
export class WorkerTrainablePolicy extends WorkerHosted implements TrainablePolicy {
  /**
   * Compiles the sessions in the worker. `sharedWeights` come from `shareWeights(...)`; train on
   * that map (its buffers are `parameters`).
   */
  static async create(
    config: DecoderConfig,
    sharedWeights: WeightMap,
    options: WorkerPolicyOptions = {},
  ): Promise<WorkerTrainablePolicy> {
    const { worker, handle } = await WorkerHosted.host('policy', config, sharedWeights, options);
    return new WorkerTrainablePolicy(config, sharedWeights, worker, handle, options);
  }

  /** A frozen copy (its own shared buffers) in the same thread, e.g. the reference policy for the KL term. */
  async copy(): Promise<WorkerTrainablePolicy> {
    return WorkerTrainablePolicy.create(this.config, shareWeights(this.weights), {
      ...this.options,
      worker: this.worker,
    });
  }

  /** logprobs[b, t] = log P(tokens[b, t] | tokens[b, <t]) and the entropy that predicted it. */
  forward(batch: TokenBatch): Promise<{ logprobs: Float32Array; entropies: Float32Array }> {
    return this.run((id) => ({ type: 'forward', id, handle: this.handle, batch }));
  }

  /** ∂/∂W of Σ (upstream.logprobs·logprobs + upstream.entropies·entropies), for every weight. */
  backward(batch: TokenBatch, upstream: Upstream): Promise<TensorBuffers> {
    return this.run((id) => ({ type: 'backward', id, handle: this.handle, batch, upstream }));
  }

  /** One run of the gradient graph: the forward outputs with the gradients (see `OrtTrainablePolicy`). */
  forwardBackward(
    batch: TokenBatch,
    upstream: Upstream,
  ): Promise<{ forward: { logprobs: Float32Array; entropies: Float32Array }; grads: TensorBuffers }> {
    return this.run((id) => ({ type: 'forward-backward', id, handle: this.handle, batch, upstream }));
  }
}

/** `OrtCritic` (the value model) in a worker_thread. */
export class WorkerCritic extends WorkerHosted implements TrainablePolicy {
  /** A critic on `sharedWeights` as they are (the trunk and `score.*`), e.g. a checkpoint's. */
  static async create(
    config: DecoderConfig,
    sharedWeights: WeightMap,
    options: WorkerPolicyOptions = {},
  ): Promise<WorkerCritic> {
    const { worker, handle } = await WorkerHosted.host('critic', config, sharedWeights, options);
    return new WorkerCritic(config, sharedWeights, worker, handle, options);
  }

  /**
   * As `OrtCritic.fromPolicy`: the policy's weights (copied; lm_head dropped) with a fresh value
   * head drawn from `rng` — the same draws, so the same critic — in shared buffers.
   */
  static async fromPolicy(
    config: DecoderConfig,
    policyWeights: WeightMap,
    rng: Rng,
    options: WorkerPolicyOptions = {},
    std = 0.02,
  ): Promise<WorkerCritic> {
    return WorkerCritic.create(
      config,
      shareWeights(OrtCritic.initialWeights(config, policyWeights, rng, std)),
      options,
    );
  }

  /** Values (batch, T); log-probs and entropies are zero (a critic has no language head). */
  forward(batch: TokenBatch): Promise<PolicyForward & { values: Float32Array }> {
    return this.run((id) => ({ type: 'forward', id, handle: this.handle, batch }));
  }

  /** ∂/∂W of Σ upstream.values·values for every critic weight. */
  backward(batch: TokenBatch, upstream: { values?: Float32Array }): Promise<TensorBuffers> {
    return this.run((id) => ({ type: 'backward', id, handle: this.handle, batch, upstream }));
  }
}
