// Compiled train-mode decoder sessions, built once per variant and shared by the trainable policy
// and the critic, plus the weight feeds both pass on every run.

import type { GraphSession, HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { buildDecoderGraph, type DecoderGraphOptions } from '../graphs/decoder-graph.js';
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
  ) {}

  /** The session of `kind`, compiled on first use. */
  get(kind: Kind): Promise<GraphSession> {
    let session = this.sessions.get(kind);
    if (session === undefined) {
      session = createSession(buildDecoderGraph(this.config, this.graphOptions(kind)).graph, {
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
