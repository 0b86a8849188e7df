// The training host: `serveTraining(port)` hosts trainable policies and critics (each
// under a handle) for `WorkerTrainablePolicy` / `WorkerCritic` on the main thread, whose event
// loop therefore never waits on a forward or backward pass. It runs in a thread of its own
// (train-worker.ts, over `parentPort`) or in the engine worker's thread (engine-worker.ts, over a
// `MessagePort` the main thread transferred with 'attach-training'): one thread per device.
//
// Weights: each hosted model is an `OrtTrainablePolicy` / `OrtCritic` over the worker's own copy
// (a snapshot) of the main thread's SharedArrayBuffer-backed weights — onnxruntime-node rejects
// shared memory. The main thread's optimiser updates the shared weights in place with no hook
// that the worker could see, so the snapshot is refreshed before EVERY run: one memcpy of the
// model's weight bytes per run (4 bytes × parameters; 4.2 MB for the 1.05M-parameter toy base,
// 2 GB for Qwen2.5-0.5B), in this thread, off the main one — the same bytes the transfer ledger
// already counts as fed to ORT on every run, and small next to the run itself (a forward over
// N tokens is ~2·N flops per parameter). Requests run one at a time, in the order they came.

import { threadId } from 'node:worker_threads';
import { InvalidInputError, Sr1Error } from '@sr1/core';
import type { TokenBatch, Upstream } from '@sr1/spec';
import type { WeightMap } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';
import { OrtCritic } from './ort-critic.js';
import { OrtTrainablePolicy } from './ort-policy.js';
import type { TrainClientMessage, TrainWireError, TrainWorkerMessage } from './train-worker-protocol.js';

/** What the host needs of its port: `parentPort` and a `MessagePort` both are one. */
export interface TrainPort {
  postMessage(message: unknown, transfer?: readonly ArrayBuffer[]): void;
  on(event: 'message', listener: (message: TrainClientMessage) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
}

function wire(error: unknown): TrainWireError {
  if (error instanceof InvalidInputError)
    return {
      name: error.name,
      code: error.code,
      message: error.message,
      reason: error.reason,
      ...(error.field !== undefined ? { field: error.field } : {}),
    };
  if (error instanceof Sr1Error) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, code: 'engine_internal', message: error.message };
  return { name: 'Error', code: 'engine_internal', message: String(error) };
}

interface Hosted {
  model: OrtTrainablePolicy | OrtCritic;
  /** Each shared weight and this worker's snapshot of it, fed to ORT. */
  shared: { source: Float32Array; snapshot: Float32Array }[];
  bytes: number;
}

/** Copies the shared weights into the snapshot: the run sees the main thread's latest update. */
function refresh(model: Hosted): number {
  for (const { source, snapshot } of model.shared) snapshot.set(source);
  return model.bytes;
}

/** The ArrayBuffers under every Float32Array of `value` (a result), each once: moved, not copied. */
function transferables(value: unknown, into = new Set<ArrayBuffer>()): Set<ArrayBuffer> {
  if (value instanceof Float32Array) {
    if (value.buffer instanceof ArrayBuffer) into.add(value.buffer);
  } else if (value instanceof Map) {
    for (const entry of value.values()) transferables(entry, into);
  } else if (typeof value === 'object' && value !== null) {
    for (const entry of Object.values(value)) transferables(entry, into);
  }
  return into;
}

/**
 * Serves the training requests that arrive on `port` (one at a time, in order), with models of
 * its own, and posts `ready` on it. When the port closes (the client's `close()`), the models it
 * hosts are disposed; the thread goes on (the engine worker's, say).
 */
export function serveTraining(port: TrainPort): void {
  const models = new Map<number, Hosted>();

  const hosted = (handle: number): Hosted => {
    const model = models.get(handle);
    if (model === undefined)
      throw new EngineInvariantError(`no trainable model with handle ${handle} in the worker`);
    return model;
  };

  const send = (message: TrainWorkerMessage, transfer: ArrayBuffer[] = []): void => {
    try {
      port.postMessage(message, transfer);
    } catch (error) {
      // A buffer that cannot be detached (memory ORT owns, say) is copied instead.
      if (transfer.length === 0) throw error;
      port.postMessage(message);
    }
  };

  const run = async (
    message: Extract<TrainClientMessage, { type: 'forward' | 'backward' | 'forward-backward' }>,
  ): Promise<void> => {
    const target = hosted(message.handle);
    const refreshBytes = refresh(target);
    const { model } = target;
    const batch: TokenBatch = message.batch;
    let value: unknown;
    if (message.type === 'forward') value = await model.forward(batch);
    else if (message.type === 'backward') value = await model.backward(batch, message.upstream as Upstream);
    else if (model instanceof OrtTrainablePolicy)
      value = await model.forwardBackward(batch, message.upstream);
    else throw new EngineInvariantError('a critic has no forwardBackward');
    send({ type: 'result', id: message.id, value, ledger: model.ledger, refreshBytes }, [
      ...transferables(value),
    ]);
  };

  const serve = async (message: TrainClientMessage): Promise<void> => {
    switch (message.type) {
      case 'create': {
        const weights: WeightMap = new Map();
        const shared: Hosted['shared'] = [];
        let bytes = 0;
        for (const weight of message.weights) {
          const snapshot = Float32Array.from(weight.data);
          weights.set(weight.name, { shape: weight.shape, data: snapshot });
          shared.push({ source: weight.data, snapshot });
          bytes += snapshot.byteLength;
        }
        const model =
          message.kind === 'policy'
            ? await OrtTrainablePolicy.create(message.config, weights, message.options)
            : await OrtCritic.create(message.config, weights, message.options);
        models.set(message.handle, { model, shared, bytes });
        send({ type: 'result', id: message.id, value: null });
        return;
      }
      case 'forward':
      case 'backward':
      case 'forward-backward':
        return run(message);
      case 'reset-ledger':
        models.get(message.handle)?.model.resetLedger();
        return;
      case 'dispose': {
        const model = models.get(message.handle);
        models.delete(message.handle);
        await model?.model.dispose();
        send({ type: 'result', id: message.id, value: null });
        return;
      }
      case 'thread':
        send({ type: 'result', id: message.id, value: threadId });
        return;
    }
  };

  let queue: Promise<void> = Promise.resolve();
  port.on('message', (message: TrainClientMessage) => {
    queue = queue.then(() =>
      serve(message).catch((error: unknown) => {
        if ('id' in message) send({ type: 'error', id: message.id, error: wire(error) });
      }),
    );
  });
  port.on('close', () => {
    // after the requests already queued: their sessions are not freed under them
    queue = queue.then(async () => {
      const hostedModels = [...models.values()];
      models.clear();
      await Promise.allSettled(hostedModels.map(({ model }) => model.dispose()));
    });
  });
  send({ type: 'ready' });
}
