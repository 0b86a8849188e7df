// A Qwen2.5-0.5B-shaped decoder (494 M random parameters, 2 GB of float32 weights) through the
// runner: the ONNX models stay small because weights are inputs, and prefill/decode run.
// Run: npx vitest run --config vitest.slow.config.ts src/graphs/decoder-scale.slow.test.ts

import type { HostValue } from '@sr1/graph';
import { createSession, serializeGraph } from '@sr1/graph';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import { tinyQwen2 } from '../testing/index.js';
import { buildDecoderGraph, DECODER_NAMES as N } from './decoder-graph.js';
import { OrtDecoderRunner } from './ort-decoder-runner.js';

const qwen05b: DecoderConfig = {
  ...tinyQwen2(151936),
  hiddenSize: 896,
  intermediateSize: 4864,
  numHiddenLayers: 24,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  headDim: 64,
  ropeTheta: 1000000,
  maxPositionEmbeddings: 32768,
};

/** Cheap deterministic pseudo-random weights (a hash per index), std ≈ 0.02. */
function hashedWeights(config: DecoderConfig): WeightMap {
  const weights: WeightMap = new Map();
  let salt = 1;
  for (const [name, spec] of expectedWeights(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.role === 'norm') data.fill(1);
    else
      for (let i = 0; i < size; i++)
        data[i] = ((Math.imul(i + salt, 2654435761) >>> 0) / 4294967296 - 0.5) * 0.07;
    salt += 7919;
    weights.set(name, { shape: spec.shape, data });
  }
  return weights;
}

describe('Qwen2.5-0.5B-shaped decoder', () => {
  it('serialises without weights and runs prefill + decode', async () => {
    for (const mode of ['prefill', 'decode', 'train'] as const) {
      const bytes = serializeGraph(
        buildDecoderGraph(qwen05b, { mode, ...(mode === 'train' ? { objective: 'upstream' as const } : {}) })
          .graph,
      );
      console.log(`${mode} graph: ${(bytes.length / 1024).toFixed(0)} KiB of ONNX`);
      expect(bytes.length).toBeLessThan(4 * 1024 * 1024);
    }
    const weights = hashedWeights(qwen05b);
    let start = performance.now();
    const runner = await OrtDecoderRunner.create(qwen05b, weights, { threads: 2 });
    console.log(`session compile: ${(performance.now() - start).toFixed(0)} ms`);
    const prompt = Array.from({ length: 32 }, (_, i) => (i * 7919) % qwen05b.vocabSize);
    start = performance.now();
    let out = await runner.prefill(
      {
        inputIds: BigInt64Array.from(prompt.map(BigInt)),
        attentionMask: new BigInt64Array(32).fill(1n),
        positionIds: BigInt64Array.from({ length: 32 }, (_, i) => BigInt(i)),
        batchSize: 1,
        newLength: 32,
      },
      { lastOnly: true },
    );
    console.log(`prefill 32 tokens: ${(performance.now() - start).toFixed(0)} ms`);
    start = performance.now();
    for (let step = 0; step < 4; step++) {
      let best = 0;
      for (let v = 1; v < qwen05b.vocabSize; v++) if (out.logits[v]! > out.logits[best]!) best = v;
      out = await runner.decode(
        {
          inputIds: BigInt64Array.of(BigInt(best)),
          attentionMask: new BigInt64Array(33 + step).fill(1n),
          positionIds: BigInt64Array.of(BigInt(32 + step)),
          batchSize: 1,
          newLength: 1,
        },
        out.cache,
        { lastOnly: true },
      );
    }
    console.log(`decode: ${((performance.now() - start) / 4).toFixed(0)} ms/step`);
    expect(out.cache.length).toBe(36);
    expect(out.logits.length).toBe(qwen05b.vocabSize);
    expect(out.logits.every(Number.isFinite)).toBe(true);
    await runner.dispose();
  });

  it('runs one train step (per-token upstream gradients) and returns a gradient for every weight', async () => {
    const weights = hashedWeights(qwen05b);
    const built = buildDecoderGraph(qwen05b, { mode: 'train', objective: 'upstream' });
    const session = await createSession(built.graph, { threads: 2 });
    const tokens = 32;
    const feeds: Record<string, HostValue> = {
      [N.inputIds]: {
        dtype: 'int64',
        shape: [1, tokens],
        data: BigInt64Array.from({ length: tokens }, (_, i) => BigInt((i * 7919) % qwen05b.vocabSize)),
      },
      [N.attentionMask]: { dtype: 'int64', shape: [1, tokens], data: new BigInt64Array(tokens).fill(1n) },
      [N.positionIds]: {
        dtype: 'int64',
        shape: [1, tokens],
        data: BigInt64Array.from({ length: tokens }, (_, i) => BigInt(i)),
      },
      [N.targetIds]: {
        dtype: 'int64',
        shape: [1, tokens],
        data: BigInt64Array.from({ length: tokens }, (_, i) => BigInt((i * 104729) % qwen05b.vocabSize)),
      },
      [N.gradLogprobs]: {
        dtype: 'float32',
        shape: [1, tokens],
        data: new Float32Array(tokens).fill(-1 / tokens),
      },
    };
    for (const [name, tensor] of weights)
      feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
    const start = performance.now();
    const out = await session.run(feeds);
    console.log(
      `train step, ${tokens} tokens: ${(performance.now() - start).toFixed(0)} ms, RSS ${(process.memoryUsage().rss / 1e9).toFixed(1)} GB`,
    );
    for (const [name, tensor] of weights) {
      const grad = out[N.gradient(name)]!.data as Float32Array;
      expect(grad.length).toBe(tensor.data.length);
    }
    const embedGrad = out[N.gradient('model.embed_tokens.weight')]!.data as Float32Array;
    expect(embedGrad.some((v) => v !== 0)).toBe(true);
    expect(embedGrad.every(Number.isFinite)).toBe(true);
    await session.release();
  });
});
