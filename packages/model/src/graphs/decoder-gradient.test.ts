// The train graph's weight gradients, emitted by @sr1/graph's autodiff, checked against float64
// central differences of the forward graph on a sample of entries of every weight.

import type { Rng } from '@sr1/core';
import { createRng } from '@sr1/core';
import type { GraphSession, HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import { describe, expect, it } from 'vitest';
import type { DecoderConfig } from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import { tinyLlama, tinyQwen2 } from '../testing/index.js';
import { buildDecoderGraph, DECODER_NAMES as N } from './decoder-graph.js';

const BATCH = 2;
const SEQ = 5;

function float64Weights(config: DecoderConfig, rng: Rng): Record<string, HostValue> {
  const feeds: Record<string, HostValue> = {};
  for (const [name, spec] of expectedWeights(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = Float64Array.from({ length: size }, () =>
      spec.role === 'norm' ? 1 + 0.1 * rng.normal() : 0.3 * rng.normal(),
    );
    feeds[name] = { dtype: 'float64', shape: spec.shape, data };
  }
  return feeds;
}

/** Row 0 left-padded by two tokens, row 1 full; targets are the next tokens. */
function batchFeeds(config: DecoderConfig, rng: Rng): Record<string, HostValue> {
  const ids = BigInt64Array.from({ length: BATCH * SEQ }, () => BigInt(rng.int(config.vocabSize)));
  const mask = BigInt64Array.from([0n, 0n, 1n, 1n, 1n, 1n, 1n, 1n, 1n, 1n]);
  const positions = BigInt64Array.from([0n, 0n, 0n, 1n, 2n, 0n, 1n, 2n, 3n, 4n]);
  const targets = BigInt64Array.from({ length: BATCH * SEQ }, () => BigInt(rng.int(config.vocabSize)));
  return {
    [N.inputIds]: { dtype: 'int64', shape: [BATCH, SEQ], data: ids },
    [N.attentionMask]: { dtype: 'int64', shape: [BATCH, SEQ], data: mask },
    [N.positionIds]: { dtype: 'int64', shape: [BATCH, SEQ], data: positions },
    [N.targetIds]: { dtype: 'int64', shape: [BATCH, SEQ], data: targets },
  };
}

/** Per-token upstream gradients, zero on padding (what the RL library would feed). */
function upstream(rng: Rng): HostValue {
  const data = Float64Array.from({ length: BATCH * SEQ }, (_, i) => (i < 2 ? 0 : rng.normal()));
  return { dtype: 'float64', shape: [BATCH, SEQ], data };
}

async function objective(
  session: GraphSession,
  feeds: Record<string, HostValue>,
  gradLogprobs: HostValue,
  gradEntropy: HostValue,
) {
  const out = await session.run(feeds);
  const logprobs = out[N.logprobs]!.data as Float64Array;
  const entropy = out[N.entropy]!.data as Float64Array;
  let sum = 0;
  for (let i = 0; i < logprobs.length; i++) {
    sum +=
      (gradLogprobs.data as Float64Array)[i]! * logprobs[i]! +
      (gradEntropy.data as Float64Array)[i]! * entropy[i]!;
  }
  return sum;
}

describe.each([
  ['qwen2 (tied embeddings)', tinyQwen2()],
  ['llama (untied, biases)', tinyLlama()],
])('train-mode gradient of a whole tiny %s', (_name, config) => {
  it('matches float64 central differences on sampled entries of every weight (RL seam)', async () => {
    const rng = createRng(11);
    const weights = float64Weights(config, rng);
    const feeds = { ...weights, ...batchFeeds(config, rng) };
    const gradLogprobs = upstream(rng);
    const gradEntropy = upstream(rng);
    const built = buildDecoderGraph(config, {
      mode: 'train',
      dtype: 'float64',
      objective: 'upstream',
      entropyGradient: true,
    });
    const forward = buildDecoderGraph(config, { mode: 'train', dtype: 'float64' });
    // 'basic': ORT's 'all' level fuses x·sigmoid(x) into a float32-only QuickGelu kernel.
    const gradientSession = await createSession(built.graph, { optimization: 'basic', threads: 1 });
    const forwardSession = await createSession(forward.graph, { optimization: 'basic', threads: 1 });
    const analytic = await gradientSession.run({
      ...feeds,
      [N.gradLogprobs]: gradLogprobs,
      [N.gradEntropy]: gradEntropy,
    });
    const step = 1e-5; // truncation ~h²·f''' ≈ 1e-10 and rounding ~1e-16·|L|/h ≈ 1e-10
    let checked = 0;
    let maxRelative = 0;
    let maxAbsolute = 0;
    const failures: string[] = [];
    for (const [name, base] of Object.entries(weights)) {
      const gradient = analytic[N.gradient(name)]!.data as Float64Array;
      expect(gradient.length).toBe(base.data.length);
      for (let s = 0; s < 3; s++) {
        const index = rng.int(base.data.length);
        const at = async (delta: number) => {
          const data = (base.data as Float64Array).slice();
          data[index] = data[index]! + delta;
          return objective(
            forwardSession,
            { ...feeds, [name]: { ...base, data } },
            gradLogprobs,
            gradEntropy,
          );
        };
        const numeric = ((await at(step)) - (await at(-step))) / (2 * step);
        const a = gradient[index]!;
        const error = Math.abs(a - numeric);
        const scale = Math.max(Math.abs(a), Math.abs(numeric));
        checked += 1;
        // Central differences carry ~1e-10 absolute noise here; judge relative error where it is small.
        if (scale > 1e-3) maxRelative = Math.max(maxRelative, error / scale);
        maxAbsolute = Math.max(maxAbsolute, error);
        if (error > 1e-8 + 1e-6 * scale)
          failures.push(`${name}[${index}]: analytic ${a}, numeric ${numeric}`);
      }
    }
    await gradientSession.release();
    await forwardSession.release();
    expect(failures).toEqual([]);
    expect(checked).toBe(3 * Object.keys(weights).length);
    expect(maxRelative).toBeLessThan(1e-6);
    expect(maxAbsolute).toBeLessThan(1e-8);
  });

  it('the SFT loss is the masked mean negative log-prob, and its gradient matches differences', async () => {
    const rng = createRng(12);
    const weights = float64Weights(config, rng);
    const lossMask: HostValue = {
      dtype: 'float64',
      shape: [BATCH, SEQ],
      data: Float64Array.from([0, 0, 0, 1, 1, 0, 1, 1, 1, 0]),
    };
    const feeds = { ...weights, ...batchFeeds(config, rng), [N.lossMask]: lossMask };
    const built = buildDecoderGraph(config, {
      mode: 'train',
      dtype: 'float64',
      objective: 'sft',
      embeddingGradient: 'onehot',
    });
    const session = await createSession(built.graph, { optimization: 'basic', threads: 1 });
    const out = await session.run(feeds);
    const logprobs = out[N.logprobs]!.data as Float64Array;
    const mask = lossMask.data as Float64Array;
    let expected = 0;
    for (let i = 0; i < mask.length; i++) expected -= mask[i]! * logprobs[i]!;
    expected /= 5;
    const loss = Number(out[N.loss]!.data[0]);
    expect(loss).toBeCloseTo(expected, 12);
    const step = 1e-6;
    for (const name of [
      'model.embed_tokens.weight',
      'model.layers.1.mlp.down_proj.weight',
      'model.norm.weight',
    ]) {
      const base = weights[name]!;
      const index = rng.int(base.data.length);
      const at = async (delta: number) => {
        const data = (base.data as Float64Array).slice();
        data[index] = data[index]! + delta;
        return Number((await session.run({ ...feeds, [name]: { ...base, data } }))[N.loss]!.data[0]);
      };
      const numeric = ((await at(step)) - (await at(-step))) / (2 * step);
      const a = (out[N.gradient(name)]!.data as Float64Array)[index]!;
      expect(Math.abs(a - numeric)).toBeLessThanOrEqual(1e-8 + 1e-6 * Math.abs(numeric));
    }
    await session.release();
  });
});

describe('value head (PPO critic)', () => {
  it('values are the final hidden state times score.weight plus score.bias', async () => {
    const config = tinyQwen2();
    const rng = createRng(21);
    const weights = float64Weights(config, rng);
    // With score.weight = embedding row 5 (the tied lm_head row), values = logits[..., 5] + bias.
    const embed = weights['model.embed_tokens.weight']!.data as Float64Array;
    const row = embed.slice(5 * config.hiddenSize, 6 * config.hiddenSize);
    const ids = Array.from({ length: SEQ }, () => rng.int(config.vocabSize));
    const feeds: Record<string, HostValue> = {
      ...weights,
      'score.weight': { dtype: 'float64', shape: [1, config.hiddenSize], data: row },
      'score.bias': { dtype: 'float64', shape: [1], data: Float64Array.of(0.25) },
      [N.inputIds]: { dtype: 'int64', shape: [1, SEQ], data: BigInt64Array.from(ids.map(BigInt)) },
      [N.attentionMask]: { dtype: 'int64', shape: [1, SEQ], data: new BigInt64Array(SEQ).fill(1n) },
      [N.positionIds]: {
        dtype: 'int64',
        shape: [1, SEQ],
        data: BigInt64Array.from({ length: SEQ }, (_, i) => BigInt(i)),
      },
    };
    const valueGraph = buildDecoderGraph(config, { mode: 'train', dtype: 'float64', head: 'value' });
    expect(valueGraph.weights.has('lm_head.weight')).toBe(false);
    const session = await createSession(valueGraph.graph, { optimization: 'basic', threads: 1 });
    const values = (await session.run(feeds))[N.values]!.data as Float64Array;
    const lm = buildDecoderGraph(config, { mode: 'prefill', dtype: 'float64' });
    const lmSession = await createSession(lm.graph, { optimization: 'basic', threads: 1 });
    const logits = (await lmSession.run(feeds))[N.logits]!.data as Float64Array;
    for (let t = 0; t < SEQ; t++) expect(values[t]).toBeCloseTo(logits[t * config.vocabSize + 5]! + 0.25, 10);
    await session.release();
    await lmSession.release();
  });

  it('the critic gradient matches float64 central differences', async () => {
    const config = tinyLlama();
    const rng = createRng(22);
    const weights: Record<string, HostValue> = {
      ...float64Weights(config, rng),
      'score.weight': {
        dtype: 'float64',
        shape: [1, config.hiddenSize],
        data: Float64Array.from({ length: config.hiddenSize }, () => rng.normal()),
      },
      'score.bias': { dtype: 'float64', shape: [1], data: Float64Array.of(0.1) },
    };
    delete weights['lm_head.weight'];
    const feeds = { ...weights, ...batchFeeds(config, rng) };
    const gradValues = upstream(rng);
    const built = buildDecoderGraph(config, {
      mode: 'train',
      dtype: 'float64',
      head: 'value',
      objective: 'upstream',
    });
    const forward = buildDecoderGraph(config, { mode: 'train', dtype: 'float64', head: 'value' });
    const gradientSession = await createSession(built.graph, { optimization: 'basic', threads: 1 });
    const forwardSession = await createSession(forward.graph, { optimization: 'basic', threads: 1 });
    const analytic = await gradientSession.run({ ...feeds, [N.gradValues]: gradValues });
    const objectiveAt = async (f: Record<string, HostValue>) => {
      const values = (await forwardSession.run(f))[N.values]!.data as Float64Array;
      return values.reduce((sum, v, i) => sum + v * (gradValues.data as Float64Array)[i]!, 0);
    };
    const step = 1e-5;
    const failures: string[] = [];
    let checked = 0;
    for (const [name, base] of Object.entries(weights)) {
      const gradient = analytic[N.gradient(name)]!.data as Float64Array;
      for (let s = 0; s < 2; s++) {
        const index = rng.int(base.data.length);
        const at = (delta: number) => {
          const data = (base.data as Float64Array).slice();
          data[index] = data[index]! + delta;
          return objectiveAt({ ...feeds, [name]: { ...base, data } });
        };
        const numeric = ((await at(step)) - (await at(-step))) / (2 * step);
        const a = gradient[index]!;
        checked += 1;
        if (Math.abs(a - numeric) > 1e-8 + 1e-6 * Math.max(Math.abs(a), Math.abs(numeric))) {
          failures.push(`${name}[${index}]: analytic ${a}, numeric ${numeric}`);
        }
      }
    }
    await gradientSession.release();
    await forwardSession.release();
    expect(failures).toEqual([]);
    expect(checked).toBe(2 * Object.keys(weights).length);
  });
});
