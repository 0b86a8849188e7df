// Compiled train-mode decoder sessions, built once per variant and shared by the trainable policy
// and the critic, plus the weight feeds both pass on every run.

import type { GraphSession, HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import type { TokenBatch, Upstream } from '@sr1/spec';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError } from '../errors.js';
import { buildDecoderGraph, type DecoderGraphOptions } from '../graphs/decoder-graph.js';
import { checkPrecision } from '../graphs/precision.js';
import type { OrtPolicyOptions } from './types.js';

/** Host↔device bytes of a policy's or critic's runs, summed over its sessions. */
export interface TrainLedger {
  runs: number;
  /** Bytes fed (host→device): weights, ids, masks, upstream gradients. */
  bytesIn: number;
  /** Bytes fetched (device→host): log-probs, entropies, gradients. */
  bytesOut: number;
}

export class TrainSessions<Kind extends string> {
  private readonly sessions = new Map<Kind, Promise<GraphSession>>();
  /** The sessions compiled so far, for the ledger. */
  private readonly compiled: GraphSession[] = [];

  constructor(
    private readonly config: DecoderConfig,
    private readonly options: OrtPolicyOptions,
    private readonly graphOptions: (kind: Kind) => DecoderGraphOptions,
  ) {
    checkPrecision(options.precision ?? 'float32', options.device ?? 'cpu');
  }

  /** The session of `kind`, compiled on first use. */
  get(kind: Kind): Promise<GraphSession> {
    let session = this.sessions.get(kind);
    if (session === undefined) {
      const precision = this.options.precision ?? 'float32';
      const graphOptions: DecoderGraphOptions = {
        ...this.graphOptions(kind),
        ...(precision !== 'float32' ? { precision } : {}),
      };
      session = createSession(buildDecoderGraph(this.config, graphOptions).graph, {
        ...(this.options.device !== undefined ? { device: this.options.device } : {}),
        ...(this.options.threads !== undefined && this.options.threads > 0
          ? { threads: this.options.threads }
          : {}),
      });
      this.sessions.set(kind, session);
      session.then(
        (compiled) => this.compiled.push(compiled),
        () => {}, // the caller of get() sees the error
      );
    }
    return session;
  }

  /**
   * Host↔device bytes of the runs of every compiled session, summed (see @sr1/graph's
   * `TransferLedger`): the weights are fed on every run and the gradients fetched.
   */
  get ledger(): TrainLedger {
    const total: TrainLedger = { runs: 0, bytesIn: 0, bytesOut: 0 };
    for (const session of this.compiled) {
      const { runs, bytesIn, bytesOut } = session.ledger;
      total.runs += runs;
      total.bytesIn += bytesIn;
      total.bytesOut += bytesOut;
    }
    return total;
  }

  /** Zeroes every compiled session's ledger. */
  resetLedger(): void {
    for (const session of this.compiled) session.resetLedger();
  }

  async dispose(): Promise<void> {
    for (const session of this.sessions.values()) await (await session).release();
    this.sessions.clear();
    this.compiled.length = 0;
  }
}

/** Every weight as a float32 graph input (no copy: ORT reads the live buffers). */
export function weightFeeds(weights: WeightMap, feeds: Record<string, HostValue>): Record<string, HostValue> {
  for (const [name, tensor] of weights)
    feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
  return feeds;
}

/**
 * Refuses a batch the graphs cannot take, with a `DecoderInputError` naming the field: sizes that
 * are not batchSize × length, token ids outside the vocabulary (padding included), upstream
 * gradients of another size. ORT would otherwise fail with an untyped error, or read garbage.
 */
export function checkTokenBatch(batch: TokenBatch, vocabSize: number, upstream?: Upstream): void {
  const { batchSize: B, length: T } = batch;
  if (!Number.isInteger(B) || B < 0 || !Number.isInteger(T) || T < 0)
    throw new DecoderInputError('batch', `batchSize and length must be integers ≥ 0, got ${B} and ${T}`);
  const n = B * T;
  for (const field of ['tokens', 'attentionMask'] as const) {
    if (batch[field]?.length !== n)
      throw new DecoderInputError(
        `batch.${field}`,
        `has ${batch[field]?.length} entries, expected batchSize × length = ${n}`,
      );
  }
  for (let i = 0; i < n; i++) {
    const id = batch.tokens[i]!;
    if (!(id >= 0 && id < vocabSize))
      throw new DecoderInputError(
        'batch.tokens',
        `token id ${id} (row ${Math.floor(i / T)}, position ${i % T}) is outside the vocabulary [0, ${vocabSize})`,
      );
  }
  for (const field of ['logprobs', 'entropies', 'values'] as const) {
    const values = upstream?.[field];
    if (values !== undefined && values.length !== n)
      throw new DecoderInputError(
        `upstream.${field}`,
        `has ${values.length} entries, expected batchSize × length = ${n}`,
      );
  }
}
