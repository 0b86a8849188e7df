// The messages between `EngineWorker` (main thread) and `engine-worker.ts` (its worker_thread).
// Internal: both ends are in this folder. Token ids and results cross by structured clone;
// weights cross once, as SharedArrayBuffer-backed arrays (shared, not copied).

import type { MessagePort } from 'node:worker_threads';
import type { DecoderConfig } from '../engine-types.js';
import type { Precision } from '../graphs/precision.js';
import type { GenerateOptions } from './generate.js';
import type { SchedulerOptions, StartOptions, TurnOptions } from './scheduler.js';
import type { ScoreOptions } from './score.js';
import type { SharedWeight } from './shared-weights.js';

/** Where the worker gets its model. */
export type WorkerModelSource =
  | { kind: 'folder'; dir: string }
  | { kind: 'shared'; config: DecoderConfig; weights: SharedWeight[]; tokenizerDir: string };

export interface EngineWorkerData {
  model: WorkerModelSource;
  runner: {
    device?: 'cpu' | 'cuda';
    threads?: number;
    fused?: boolean;
    weightsAs?: 'inputs' | 'initializers';
    precision?: Precision;
  };
  scheduler: SchedulerOptions;
}

/** Options that cross the thread boundary: no callbacks, no signals, no Rng. */
export type WireGenerateOptions = Omit<GenerateOptions, 'rng' | 'onToken' | 'signal' | 'sequenceSignals'>;
export type WireTurnOptions = Omit<TurnOptions, 'onToken' | 'signal'>;
export type WireStartOptions = Omit<StartOptions, 'onToken' | 'signal'>;

export type ClientMessage =
  | {
      type: 'generate';
      id: number;
      prompts: number[][];
      options: WireGenerateOptions;
      stream: boolean;
      /** Rows whose `sequenceSignals` entry was aborted before the request: they stop at the first step. */
      abortedSequences: number[];
    }
  | { type: 'score'; id: number; sequences: number[][]; options: ScoreOptions }
  | { type: 'start'; id: number; promptTokenIds: number[]; options: WireStartOptions; stream: boolean }
  | {
      type: 'continue';
      id: number;
      session: number;
      appendTokenIds: number[];
      options: WireTurnOptions;
      stream: boolean;
    }
  | { type: 'release'; session: number }
  | { type: 'policy'; id: number; version: number }
  | { type: 'stats'; id: number }
  | { type: 'cancel'; id: number }
  /** One sequence of a generate request stops (its `sequenceSignals` entry aborted); the others go on. */
  | { type: 'cancel-sequence'; id: number; sequence: number }
  /**
   * Hosts training in this thread (train-host.ts's `serveTraining`) over `port`, transferred with
   * the message: a `TrainWorker.over(engine)` on the main thread holds its other end.
   */
  | { type: 'attach-training'; id: number; port: MessagePort }
  /** The id of the worker's thread (`threadId` of node:worker_threads there). */
  | { type: 'thread'; id: number };

export interface WireError {
  name: string;
  code: string;
  message: string;
}

export type WorkerMessage =
  | { type: 'ready'; config: DecoderConfig; eosTokenIds: number[] }
  | { type: 'init-error'; error: WireError }
  /** A sampled token of a streaming request; `sequence` indexes its prompts (0 for a session turn). */
  | { type: 'token'; id: number; sequence: number; tokenId: number }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError };
