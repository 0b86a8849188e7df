// The shapes the trainable policy and the critic share with their compiled sessions: the token
// batch they take, the upstream gradients, and the session options.

import type { Device } from '@sr1/graph';

/** A right-padded token batch (structurally @sr1/train's TokenBatch). */
export interface PolicyTokenBatch {
  /** (batchSize, length) */
  tokens: Int32Array;
  batchSize: number;
  length: number;
  /** 1 = real token; real tokens form a prefix of each row. (batchSize, length) */
  attentionMask: Uint8Array;
}

/** Upstream gradients, each (batchSize, length), aligned like the forward outputs. */
export interface PolicyUpstream {
  logprobs?: Float32Array;
  entropies?: Float32Array;
}

export interface OrtPolicyOptions {
  device?: Device; // 'cpu': always present
  threads?: number; // intra-op threads; default: ORT's choice (all cores)
}
