// The messages between `TrainWorker` (main thread) and `train-worker.ts` (its worker_thread).
// Internal: both ends are in this folder. Weights cross once, as SharedArrayBuffer-backed arrays
// (shared, not copied); batches and upstream gradients cross by structured clone (B × T numbers);
// results come back by transferring their ArrayBuffers (moved, not copied).

import type { TokenBatch, Upstream } from '@sr1/spec';
import type { DecoderConfig } from '../engine-types.js';
import type { SharedWeight } from '../inference/shared-weights.js';
import type { WireError } from '../inference/worker-protocol.js';
import type { TrainLedger } from './train-sessions.js';
import type { OrtPolicyOptions } from './types.js';

/** What the worker hosts under a handle: an `OrtTrainablePolicy` or an `OrtCritic`. */
export type TrainModelKind = 'policy' | 'critic';

export type TrainClientMessage =
  | {
      type: 'create';
      id: number;
      handle: number;
      kind: TrainModelKind;
      config: DecoderConfig;
      weights: SharedWeight[];
      options: OrtPolicyOptions;
    }
  | { type: 'forward'; id: number; handle: number; batch: TokenBatch }
  | { type: 'backward'; id: number; handle: number; batch: TokenBatch; upstream: Upstream }
  | { type: 'forward-backward'; id: number; handle: number; batch: TokenBatch; upstream: Upstream }
  /** Zeroes the handle's ledger (in order with the runs: the runs before it are forgotten). */
  | { type: 'reset-ledger'; handle: number }
  | { type: 'dispose'; id: number; handle: number }
  /** The id of the thread serving the requests (`threadId` of node:worker_threads there). */
  | { type: 'thread'; id: number };

/** A `WireError` with the location fields of an `InvalidInputError`, so the main thread can rebuild it. */
export interface TrainWireError extends WireError {
  field?: string;
  reason?: string;
}

export type TrainWorkerMessage =
  | { type: 'ready' }
  /**
   * A request's value, with the handle's ledger after it (a run's) and the bytes the worker copied
   * from the shared weights into its own before it (`refreshBytes`).
   */
  | { type: 'result'; id: number; value: unknown; ledger?: TrainLedger; refreshBytes?: number }
  | { type: 'error'; id: number; error: TrainWireError };
