// The session options the trainable policy and the critic share. The token batch and the upstream
// gradients they take are @sr1/spec's `TokenBatch` and `Upstream`.

import type { Device } from '@sr1/graph';
import type { Precision } from '../graphs/precision.js';

export interface OrtPolicyOptions {
  device?: Device; // 'cpu': always present
  threads?: number; // intra-op threads; default: ORT's choice (all cores)
  /**
   * Compute precision of the train graphs' MatMuls (see `Precision`); the weights, the gradients
   * returned, the log-probs and the losses stay float32, so the optimiser is unchanged. 'bfloat16'
   * needs 'cuda'. Default 'float32': today's graphs.
   */
  precision?: Precision;
}
