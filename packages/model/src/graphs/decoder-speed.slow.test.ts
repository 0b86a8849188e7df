// Speed of the decoder graphs on ORT CPU: plain-op vs opset-23 fused inference graphs (prefill
// and cached decode), and one train-graph forward+backward. Prints the numbers it measures; the
// assertions only check that the fused graph computes the same logits.
// Run: npx vitest run --config vitest.slow.config.ts src/graphs/decoder-speed.slow.test.ts

import { createRng } from '@sr1/core';
import type { HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig, ForwardInputs } from '../engine-types.js';
import { initWeights } from '../formats/weights.js';
import { tinyQwen2 } from '../testing/index.js';
import { buildDecoderGraph, DECODER_NAMES as N } from './decoder-graph.js';
import { OrtDecoderRunner } from './ort-decoder-runner.js';

const config: DecoderConfig = {
  ...tinyQwen2(8192),
  hiddenSize: 512,
  intermediateSize: 1408,
  numHiddenLayers: 4,
  numAttentionHeads: 8,
  numKeyValueHeads: 2,
  headDim: 64,
};
const BATCH = 4;
const PROMPT = 64;
const STEPS = 16;
const THREADS = 2;

function prompt(rng: ReturnType<typeof createRng>): ForwardInputs {
  return {
    inputIds: BigInt64Array.from({ length: BATCH * PROMPT }, () => BigInt(rng.int(config.vocabSize))),
    attentionMask: new BigInt64Array(BATCH * PROMPT).fill(1n),
    positionIds: BigInt64Array.from({ length: BATCH * PROMPT }, (_, i) => BigInt(i % PROMPT)),
    batchSize: BATCH,
    newLength: PROMPT,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

describe('decoder speed (ORT CPU)', () => {
  it('plain vs fused inference graphs, interleaved, medians', async () => {
    const rng = createRng(3);
    const weights = initWeights(config, rng);
    const inputs = prompt(rng);
    const runners = {
      plain: await OrtDecoderRunner.create(config, weights, { threads: THREADS, fused: false }),
      fused: await OrtDecoderRunner.create(config, weights, { threads: THREADS, fused: true }),
    };
    const times = {
      plain: { prefill: [] as number[], decode: [] as number[] },
      fused: { prefill: [] as number[], decode: [] as number[] },
    };
    const last: Record<string, Float32Array> = {};
    const trials = 6; // interleaved so that load from other processes hits both alike
    for (let trial = 0; trial <= trials; trial++) {
      for (const kind of ['plain', 'fused'] as const) {
        const runner = runners[kind];
        let start = performance.now();
        const first = await runner.prefill(inputs, { lastOnly: true });
        const prefillMs = performance.now() - start;
        let cache = first.cache;
        start = performance.now();
        for (let step = 0; step < STEPS; step++) {
          const total = PROMPT + step + 1;
          const next = await runner.decode(
            {
              inputIds: BigInt64Array.from({ length: BATCH }, (_, b) =>
                BigInt((step * 7 + b) % config.vocabSize),
              ),
              attentionMask: new BigInt64Array(BATCH * total).fill(1n),
              positionIds: new BigInt64Array(BATCH).fill(BigInt(total - 1)),
              batchSize: BATCH,
              newLength: 1,
            },
            cache,
            { lastOnly: true },
          );
          cache = next.cache;
          last[kind] = next.logits;
        }
        const decodeMs = (performance.now() - start) / STEPS;
        if (trial > 0) {
          // trial 0 warms up (session compilation, allocator arenas)
          times[kind].prefill.push(prefillMs);
          times[kind].decode.push(decodeMs);
        }
      }
    }
    await runners.plain.dispose();
    await runners.fused.dispose();
    let maxDiff = 0;
    for (let i = 0; i < last.plain!.length; i++)
      maxDiff = Math.max(maxDiff, Math.abs(last.plain![i]! - last.fused![i]!));
    console.log(
      `hidden ${config.hiddenSize}, ${config.numHiddenLayers} layers, vocab ${config.vocabSize}, batch ${BATCH}, threads ${THREADS}, median of ${trials}\n` +
        `prefill ${PROMPT} tokens: plain ${median(times.plain.prefill).toFixed(1)} ms, fused ${median(times.fused.prefill).toFixed(1)} ms\n` +
        `decode step (past ${PROMPT}..${PROMPT + STEPS}): plain ${median(times.plain.decode).toFixed(2)} ms, fused ${median(times.fused.decode).toFixed(2)} ms\n` +
        `max |logit difference| after ${STEPS} steps: ${maxDiff.toExponential(2)}`,
    );
    expect(maxDiff).toBeLessThan(1e-3);
  });

  it('train graph forward + backward (upstream objective)', async () => {
    const rng = createRng(4);
    const weights = initWeights(config, rng);
    const batch = 2;
    const seq = 64;
    const { graph } = buildDecoderGraph(config, { mode: 'train', objective: 'upstream' });
    const session = await createSession(graph, { threads: THREADS });
    const feeds: Record<string, HostValue> = {
      [N.inputIds]: {
        dtype: 'int64',
        shape: [batch, seq],
        data: BigInt64Array.from({ length: batch * seq }, () => BigInt(rng.int(config.vocabSize))),
      },
      [N.attentionMask]: {
        dtype: 'int64',
        shape: [batch, seq],
        data: new BigInt64Array(batch * seq).fill(1n),
      },
      [N.positionIds]: {
        dtype: 'int64',
        shape: [batch, seq],
        data: BigInt64Array.from({ length: batch * seq }, (_, i) => BigInt(i % seq)),
      },
      [N.targetIds]: {
        dtype: 'int64',
        shape: [batch, seq],
        data: BigInt64Array.from({ length: batch * seq }, () => BigInt(rng.int(config.vocabSize))),
      },
      [N.gradLogprobs]: {
        dtype: 'float32',
        shape: [batch, seq],
        data: new Float32Array(batch * seq).fill(-1 / (batch * seq)),
      },
    };
    for (const [name, tensor] of weights)
      feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
    await session.run(feeds); // warm-up
    const start = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - start;
    console.log(
      `train fwd+bwd, batch ${batch} × ${seq} tokens, ${graph.nodes.length} nodes: ${ms.toFixed(0)} ms`,
    );
    expect(out[N.gradient('model.norm.weight')]!.data.length).toBe(config.hiddenSize);
    await session.release();
  });
});

describe('KV cache layout (ORT CPU)', () => {
  it('static slots vs time-major append vs batch-major presents copied out each step', async () => {
    const weights = initWeights(config, createRng(1));
    const batch = 8;
    const start = 1024;
    const steps = 8;
    const capacity = start + 256; // the runner's 25 % headroom
    const layers = config.numHiddenLayers;
    const [kvHeads, headDim] = [config.numKeyValueHeads, config.headDim];
    const stepSize = batch * kvHeads * headDim;
    const weightFeeds: Record<string, HostValue> = {};
    for (const [name, t] of weights) weightFeeds[name] = { dtype: 'float32', shape: t.shape, data: t.data };
    const layouts = ['batch-major', 'time-major', 'static'] as const;
    const results: Record<string, number[]> = { 'batch-major': [], 'time-major': [], static: [] };
    for (let repeat = 0; repeat < 2; repeat++) {
      for (const layout of layouts) {
        const { graph } = buildDecoderGraph(config, { mode: 'decode', lastOnly: true, cacheLayout: layout });
        const session = await createSession(graph, { threads: THREADS });
        const buffers = Array.from({ length: 2 * layers }, () => new Float32Array(capacity * stepSize));
        let presents: HostValue[] = Array.from({ length: 2 * layers }, () => ({
          dtype: 'float32',
          shape: [batch, kvHeads, start, headDim],
          data: new Float32Array(start * stepSize),
        }));
        let past = start;
        const began = performance.now();
        for (let i = 0; i < steps; i++) {
          const maskWidth = layout === 'static' ? capacity + 1 : past + 1;
          const mask = new BigInt64Array(batch * maskWidth);
          for (let b = 0; b < batch; b++) {
            for (let j = 0; j < maskWidth; j++)
              mask[b * maskWidth + j] = layout !== 'static' || j < past || j === capacity ? 1n : 0n;
          }
          const feeds: Record<string, HostValue> = {
            ...weightFeeds,
            [N.inputIds]: { dtype: 'int64', shape: [batch, 1], data: new BigInt64Array(batch).fill(3n) },
            [N.attentionMask]: { dtype: 'int64', shape: [batch, maskWidth], data: mask },
            [N.positionIds]: {
              dtype: 'int64',
              shape: [batch, 1],
              data: new BigInt64Array(batch).fill(BigInt(past)),
            },
          };
          for (let l = 0; l < layers; l++) {
            if (layout === 'batch-major') {
              feeds[N.pastKey(l)] = presents[2 * l]!;
              feeds[N.pastValue(l)] = presents[2 * l + 1]!;
            } else if (layout === 'time-major') {
              const shape = [past, batch, kvHeads, headDim];
              feeds[N.pastKey(l)] = {
                dtype: 'float32',
                shape,
                data: buffers[2 * l]!.subarray(0, past * stepSize),
              };
              feeds[N.pastValue(l)] = {
                dtype: 'float32',
                shape,
                data: buffers[2 * l + 1]!.subarray(0, past * stepSize),
              };
            } else {
              const shape = [batch, kvHeads, capacity, headDim];
              feeds[N.pastKey(l)] = { dtype: 'float32', shape, data: buffers[2 * l]! };
              feeds[N.pastValue(l)] = { dtype: 'float32', shape, data: buffers[2 * l + 1]! };
            }
          }
          const out = await session.run(feeds);
          for (let l = 0; l < layers; l++) {
            if (layout === 'time-major') {
              buffers[2 * l]!.set(out[N.newKey(l)]!.data as Float32Array, past * stepSize);
              buffers[2 * l + 1]!.set(out[N.newValue(l)]!.data as Float32Array, past * stepSize);
            } else if (layout === 'static') {
              for (let block = 0; block < batch * kvHeads; block++) {
                const at = (block * capacity + past) * headDim;
                buffers[2 * l]!.set(
                  (out[N.newKey(l)]!.data as Float32Array).subarray(block * headDim, (block + 1) * headDim),
                  at,
                );
                buffers[2 * l + 1]!.set(
                  (out[N.newValue(l)]!.data as Float32Array).subarray(block * headDim, (block + 1) * headDim),
                  at,
                );
              }
            }
          }
          if (layout === 'batch-major') {
            presents = Array.from(
              { length: 2 * layers },
              (_, j) => out[j % 2 === 0 ? N.presentKey(j >> 1) : N.presentValue(j >> 1)]!,
            );
          }
          past += 1;
        }
        results[layout]!.push((performance.now() - began) / steps);
        await session.release();
      }
    }
    const best = (layout: string) => Math.min(...results[layout]!).toFixed(1);
    console.log(
      `decode step at past ${start}, batch ${batch}, plain graph, threads ${THREADS}: ` +
        `batch-major ${best('batch-major')} ms, time-major ${best('time-major')} ms, static ${best('static')} ms`,
    );
    expect(results.static!.length).toBe(2);
  });
});
