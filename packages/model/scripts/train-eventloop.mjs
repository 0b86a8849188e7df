#!/usr/bin/env node
// The main thread's event-loop delay during SFT optimizer steps (issue #15): the policy's sessions
// in-thread (`OrtTrainablePolicy`) against in a worker_thread (`WorkerTrainablePolicy`), on the same
// model, batch and thread count. A step is `batch / micro` forwardBackward runs and an AdamW update
// on the main thread, as `@sr1/train`'s trainSft does. Prints p50 / p99 / max delay
// (perf_hooks.monitorEventLoopDelay, 1 ms resolution) and the mean step time of each.
//
//   npm run build && node scripts/train-eventloop.mjs [--model ../../apps/trainer/assets/base-policy]
//       [--steps 4] [--batch 8] [--micro 4] [--length 256] [--threads 1] [--worker-first]

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AdamW } from '@sr1/optim';
import {
  cloneWeights,
  loadModelFolder,
  OrtTrainablePolicy,
  shareWeights,
  WorkerTrainablePolicy,
} from '../dist/index.js';

const { values } = parseArgs({
  options: {
    model: {
      type: 'string',
      default: fileURLToPath(new URL('../../../apps/trainer/assets/base-policy', import.meta.url)),
    },
    steps: { type: 'string', default: '4' },
    batch: { type: 'string', default: '8' },
    micro: { type: 'string', default: '4' },
    length: { type: 'string', default: '256' },
    threads: { type: 'string', default: '1' },
    'worker-first': { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);
const batchSize = Number(values.batch);
const micro = Number(values.micro);
const length = Number(values.length);
const threads = Number(values.threads);

const { config, weights } = await loadModelFolder(values.model);
let parameters = 0;
for (const tensor of weights.values()) parameters += tensor.data.length;

function microBatch(index) {
  const tokens = new Int32Array(micro * length);
  for (let i = 0; i < tokens.length; i++) tokens[i] = (i * 7919 + index * 104729) % config.vocabSize;
  const upstream = new Float32Array(micro * length);
  for (let b = 0; b < micro; b++)
    for (let t = 1; t < length; t++) upstream[b * length + t] = -1 / (batchSize * (length - 1));
  return {
    batch: { tokens, attentionMask: new Uint8Array(micro * length).fill(1), batchSize: micro, length },
    upstream,
  };
}

async function step(policy, optimizer, index) {
  const sums = new Map();
  for (let m = 0; m < batchSize / micro; m++) {
    const { batch, upstream } = microBatch(index * 100 + m);
    const { grads } = await policy.forwardBackward(batch, { logprobs: upstream });
    for (const [name, grad] of grads) {
      const sum = sums.get(name);
      if (sum === undefined) sums.set(name, grad);
      else for (let i = 0; i < grad.length; i++) sum[i] += grad[i];
    }
  }
  optimizer.step(policy.parameters, sums);
}

async function measure(name, policy) {
  const optimizer = new AdamW({ lr: 1e-4 });
  await step(policy, optimizer, 0); // compiles the gradient session
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const started = performance.now();
  for (let s = 1; s <= steps; s++) await step(policy, optimizer, s);
  const seconds = (performance.now() - started) / 1000;
  histogram.disable();
  const ms = (ns) => (ns / 1e6).toFixed(1);
  console.log(
    `${name.padEnd(10)} event-loop delay p50 ${ms(histogram.percentile(50))} ms, p99 ${ms(histogram.percentile(99))} ms, ` +
      `max ${ms(histogram.max)} ms; ${((seconds / steps) * 1000).toFixed(0)} ms per step`,
  );
  await policy.dispose();
}

console.log(
  `${values.model}: ${(parameters / 1e6).toFixed(2)}M parameters; ${steps} steps of ${batchSize} × ${length} tokens ` +
    `(micro-batches of ${micro}), ${threads} ORT thread(s), AdamW on the main thread`,
);
const runs = [
  async () =>
    measure('in-thread', await OrtTrainablePolicy.create(config, cloneWeights(weights), { threads })),
  async () =>
    measure('worker', await WorkerTrainablePolicy.create(config, shareWeights(weights), { threads })),
];
if (values['worker-first']) runs.reverse();
for (const run of runs) await run();
