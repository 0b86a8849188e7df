// The session options the trainable policy and the critic share. The token batch and the upstream
// gradients they take are @sr1/spec's `TokenBatch` and `Upstream`.

import type { Device } from '@sr1/graph';

export interface OrtPolicyOptions {
  device?: Device; // 'cpu': always present
  threads?: number; // intra-op threads; default: ORT's choice (all cores)
}
