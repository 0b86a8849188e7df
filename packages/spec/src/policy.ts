// The seam between training loops and the engine: a policy that scores a token batch (per-token
// log-probs, entropies, optional values) and turns per-token upstream gradients into parameter
// gradients. Loss maths (SFT cross-entropy, PPO/GRPO) stays in TypeScript on the caller's side.
// `@sr1/model`'s `OrtTrainablePolicy` implements it; `@sr1/train`'s loops and `@sr1/optim` use it.

/** Named float32 buffers (parameters, their gradients or optimiser moments), keyed by HF tensor names. */
export type TensorBuffers = Map<string, Float32Array>;

/** A right-padded batch of token sequences. */
export interface TokenBatch {
  /** Token ids, shape (batchSize, length); padding positions hold any valid id. */
  tokens: Int32Array;
  batchSize: number;
  length: number;
  /** 1 = real token, 0 = padding, shape (batchSize, length). Real tokens form a prefix of each row. */
  attentionMask: Uint8Array;
}

/** What a forward pass returns, each of shape (batchSize, length). */
export interface PolicyForward {
  /** logprobs[b, t] = log P(tokens[b, t] | tokens[b, <t]); position 0 (no context) is 0. */
  logprobs: Float32Array;
  /** Entropy of the next-token distribution that predicted position t; position 0 is 0. */
  entropies: Float32Array;
  /** Value-head output at position t, when the policy has one. */
  values?: Float32Array;
}

/** Per-token upstream gradients dLoss/d(output), each (batchSize, length); absent means zero. */
export interface Upstream {
  logprobs?: Float32Array;
  entropies?: Float32Array;
  values?: Float32Array;
}

/**
 * A trainable model. `backward` returns ∂/∂θ of Σ_t (upstream.logprobs·logprobs +
 * upstream.entropies·entropies + upstream.values·values) for every trainable parameter; an
 * implementation may reuse activations of the last `forward` over the same batch.
 */
export interface TrainablePolicy {
  /** Live parameters; the optimiser updates them in place. */
  readonly parameters: TensorBuffers;
  forward(batch: TokenBatch): Promise<PolicyForward>;
  backward(batch: TokenBatch, upstream: Upstream): Promise<TensorBuffers>;
  /**
   * Optional single pass returning forward outputs and gradients together; loops use it when the
   * upstream gradients do not depend on the forward (SFT), saving a forward pass per step.
   */
  forwardBackward?(
    batch: TokenBatch,
    upstream: Upstream,
  ): Promise<{ forward: PolicyForward; grads: TensorBuffers }>;
}
