// Training throughput, side by side in one run: sr1's SFT step (one pass of the gradient graph +
// AdamW) against PyTorch (autograd + torch.optim.AdamW) on the same model, batch and threads.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import {
  countParameters,
  type DecoderConfig,
  initWeights,
  OrtTrainablePolicy,
  saveModelFolder,
} from '@sr1/model';
import { AdamW } from '@sr1/optim';
import { runTorchPeer } from './peers.js';

export interface TrainPerfOptions {
  config: DecoderConfig;
  batchSize: number;
  length: number;
  threads: number;
  steps: number;
  /** The PyTorch peer's interpreter (path or name on PATH); default TORCH_PYTHON. */
  python?: string;
}

/** `sr1-bench perf-train`'s sizes, and `sr1-bench perf`'s outside --quick. */
export const TRAIN_PERF_DEFAULTS = {
  batchSize: 8, // × 256 tokens: the sizes of the recorded rows in docs/benchmarks.md
  length: 256,
  threads: 2, // each engine, as on the 2-core machines the recorded numbers come from
  steps: 5, // timed steps after two warm-up steps
} as const satisfies Omit<TrainPerfOptions, 'config' | 'python'>;

export interface TrainPerfResult {
  parameters: number;
  sr1TokensPerSecond: number;
  torchTokensPerSecond: number;
  torchVersion: string;
  /** Seconds of one forward pass and of one forward+backward pass over the batch (sr1). */
  sr1ForwardSeconds: number;
  sr1ForwardBackwardSeconds: number;
  /** Peak resident memory of this process during sr1's steps, bytes per parameter. */
  sr1PeakRssBytesPerParameter: number;
}

/**
 * B × T tokens with no padding, as the engine takes them, and the upstream gradient of the mean
 * negative log-prob over every token that has one (all but each row's first).
 */
export function fullLossBatch(tokens: Int32Array, B: number, T: number) {
  const batch = { tokens, attentionMask: new Uint8Array(B * T).fill(1), batchSize: B, length: T };
  const upstream = new Float32Array(B * T).fill(-1 / (B * (T - 1)));
  for (let b = 0; b < B; b++) upstream[b * T] = 0;
  return { batch, upstream };
}

export async function measureTrainThroughput(options: TrainPerfOptions): Promise<TrainPerfResult> {
  const { config, batchSize: B, length: T } = options;
  const dir = await mkdtemp(join(tmpdir(), 'sr1-train-perf-'));
  const weights = initWeights(config, createRng(1));
  await saveModelFolder(dir, { config, weights });
  const rng = createRng(2);
  const tokens = Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(config.vocabSize)));
  const ones = tokens.map((row) => row.map(() => 1));
  await writeFile(join(dir, 'batch.json'), JSON.stringify({ tokens, attention_mask: ones, loss_mask: ones }));

  const policy = await OrtTrainablePolicy.create(config, weights, { threads: options.threads });
  const optimizer = new AdamW({ lr: 1e-4 });
  const { batch, upstream } = fullLossBatch(Int32Array.from(tokens.flat()), B, T);
  const step = async () => {
    const { grads } = await policy.forwardBackward(batch, { logprobs: upstream });
    optimizer.step(policy.parameters, grads);
  };
  await step();
  await step(); // warm-up: session compilation, allocator
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const started = performance.now();
  for (let i = 0; i < options.steps; i++) {
    await step();
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const seconds = (performance.now() - started) / 1000;
  const forwardStarted = performance.now();
  for (let i = 0; i < options.steps; i++) await policy.forward(batch);
  const sr1ForwardSeconds = (performance.now() - forwardStarted) / 1000 / options.steps;
  await policy.dispose();
  const torch = await runTorchPeer(
    'torch_train_step.py',
    [
      '--model',
      dir,
      '--batch',
      join(dir, 'batch.json'),
      '--optimizer',
      'adamw',
      '--lr',
      '1e-4',
      '--threads',
      String(options.threads),
      '--bench-steps',
      String(options.steps),
    ],
    {},
    options.python,
  );
  const parameters = countParameters(weights);
  return {
    parameters,
    sr1TokensPerSecond: (B * T * options.steps) / seconds,
    torchTokensPerSecond: Number(torch.tokens_per_second),
    torchVersion: String(torch.torch),
    sr1ForwardSeconds,
    sr1ForwardBackwardSeconds: seconds / options.steps,
    sr1PeakRssBytesPerParameter: peak / parameters,
  };
}
