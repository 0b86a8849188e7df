import type { Rng } from '@sr1/core';
import { createRng } from '@sr1/core';
import type { HostValue } from '@sr1/graph';
import { createSession } from '@sr1/graph';
import { afterAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, ForwardInputs, WeightMap } from '../engine-types.js';
import { expectedWeights } from '../formats/weights.js';
import { referenceForward, referenceLogProbs } from '../reference/reference-decoder.js';
import { tinyLlama, tinyQwen2 } from '../testing/index.js';
import { buildDecoderGraph, DECODER_NAMES } from './decoder-graph.js';
import { OrtDecoderRunner, type OrtDecoderRunnerOptions } from './ort-decoder-runner.js';

/** Random weights large enough that every layer matters (std 0.3; norms around 1). */
function randomWeights(config: DecoderConfig, rng: Rng): WeightMap {
  const weights: WeightMap = new Map();
  for (const [name, spec] of expectedWeights(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, () =>
      spec.role === 'norm' ? 1 + 0.1 * rng.normal() : 0.3 * rng.normal(),
    );
    weights.set(name, { shape: spec.shape, data });
  }
  return weights;
}

function tokens(length: number, vocab: number, rng: Rng): number[] {
  return Array.from({ length }, () => rng.int(vocab));
}

/** Left-padded batch inputs from sequences of different lengths (pad id 0). */
function leftPadded(sequences: number[][]): ForwardInputs {
  const width = Math.max(...sequences.map((s) => s.length));
  const ids: bigint[] = [];
  const mask: bigint[] = [];
  const positions: bigint[] = [];
  for (const seq of sequences) {
    const pad = width - seq.length;
    for (let i = 0; i < width; i++) {
      ids.push(i < pad ? 0n : BigInt(seq[i - pad]!));
      mask.push(i < pad ? 0n : 1n);
      positions.push(i < pad ? 0n : BigInt(i - pad));
    }
  }
  return {
    inputIds: BigInt64Array.from(ids),
    attentionMask: BigInt64Array.from(mask),
    positionIds: BigInt64Array.from(positions),
    batchSize: sequences.length,
    newLength: width,
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const runners: OrtDecoderRunner[] = [];
afterAll(async () => {
  for (const runner of runners) await runner.dispose();
});

describe.each([
  ['qwen2 (tied, qkv bias)', tinyQwen2(), {}],
  ['llama (untied, all biases, headDim 8)', tinyLlama(), {}],
  ['qwen2, fused opset-23 ops', tinyQwen2(), { fused: true }],
  ['llama, fused opset-23 ops', tinyLlama(), { fused: true }],
  // initializers: weight transposes and q/k/v, gate/up concatenations folded by ORT
  ['qwen2, weights as initializers', tinyQwen2(), { weightsAs: 'initializers' }],
  ['llama, fused, weights as initializers', tinyLlama(), { fused: true, weightsAs: 'initializers' }],
] satisfies [string, DecoderConfig, OrtDecoderRunnerOptions][])(
  'decoder graph, %s',
  (_name, config, variant) => {
    const rng = createRng(7);
    const weights = randomWeights(config, rng);

    it('prefill logits match the plain TypeScript reference', async () => {
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const seq = tokens(9, config.vocabSize, rng);
      const { logits } = await runner.prefill(leftPadded([seq]));
      const reference = referenceForward(config, weights, seq);
      expect(maxAbsDiff(logits, reference.logits)).toBeLessThan(1e-4);
    });

    it('prefill + decode with the KV cache equals the full forward', async () => {
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const seq = tokens(8, config.vocabSize, rng);
      const full = await runner.prefill(leftPadded([seq]));
      const prefix = 5;
      let state = await runner.prefill(leftPadded([seq.slice(0, prefix)]), { lastOnly: true });
      const V = config.vocabSize;
      expect(maxAbsDiff(state.logits, full.logits.subarray((prefix - 1) * V, prefix * V))).toBeLessThan(1e-5);
      for (let t = prefix; t < seq.length; t++) {
        state = await runner.decode(
          {
            inputIds: BigInt64Array.of(BigInt(seq[t]!)),
            attentionMask: new BigInt64Array(t + 1).fill(1n),
            positionIds: BigInt64Array.of(BigInt(t)),
            batchSize: 1,
            newLength: 1,
          },
          state.cache,
          { lastOnly: true },
        );
        expect(state.cache.length).toBe(t + 1);
        expect(maxAbsDiff(state.logits, full.logits.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
      }
    });

    it('a left-padded batch equals one-by-one, through decode and selectRows', async () => {
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const V = config.vocabSize;
      const sequences = [tokens(3, V, rng), tokens(6, V, rng), tokens(4, V, rng)];
      const next = [tokens(1, V, rng)[0]!, tokens(1, V, rng)[0]!, tokens(1, V, rng)[0]!];
      const batch = await runner.prefill(leftPadded(sequences), { lastOnly: true });
      const width = 6;
      const mask = leftPadded(sequences).attentionMask;
      const decodeMask: bigint[] = [];
      for (let b = 0; b < 3; b++)
        decodeMask.push(...Array.from(mask.subarray(b * width, (b + 1) * width)), 1n);
      const stepped = await runner.decode(
        {
          inputIds: BigInt64Array.from(next.map(BigInt)),
          attentionMask: BigInt64Array.from(decodeMask),
          positionIds: BigInt64Array.from(sequences.map((s) => BigInt(s.length))),
          batchSize: 3,
          newLength: 1,
        },
        batch.cache,
        { lastOnly: true },
      );
      for (let b = 0; b < 3; b++) {
        const single = await runner.prefill(leftPadded([[...sequences[b]!, next[b]!]]), { lastOnly: true });
        const last = await runner.prefill(leftPadded([sequences[b]!]), { lastOnly: true });
        expect(maxAbsDiff(batch.logits.subarray(b * V, (b + 1) * V), last.logits)).toBeLessThan(1e-5);
        expect(maxAbsDiff(stepped.logits.subarray(b * V, (b + 1) * V), single.logits)).toBeLessThan(1e-5);
      }
      // Drop row 0: rows 1 and 2 continue exactly as before.
      const kept = runner.selectRows(stepped.cache, [2, 1]);
      expect(kept.batchSize).toBe(2);
      const fullMask = BigInt64Array.from(decodeMask);
      const rowMask = (b: number) => Array.from(fullMask.subarray(b * 7, (b + 1) * 7));
      const after = await runner.decode(
        {
          inputIds: BigInt64Array.of(5n, 6n),
          attentionMask: BigInt64Array.from([...rowMask(2), 1n, ...rowMask(1), 1n]),
          positionIds: BigInt64Array.from([
            BigInt(sequences[2]!.length + 1),
            BigInt(sequences[1]!.length + 1),
          ]),
          batchSize: 2,
          newLength: 1,
        },
        kept,
        { lastOnly: true },
      );
      const solo = await runner.prefill(leftPadded([[...sequences[1]!, next[1]!, 6]]), { lastOnly: true });
      expect(maxAbsDiff(after.logits.subarray(V, 2 * V), solo.logits)).toBeLessThan(1e-5);
    });

    it('decode of a multi-token chunk with padding inside the batch equals one-by-one', async () => {
      // Search-R1 appends a retrieved <information> block to each row and continues: rows append
      // chunks of different lengths, left-padded within the chunk (mask 0 in the middle of a row).
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const V = config.vocabSize;
      const prompts = [tokens(4, V, rng), tokens(2, V, rng)];
      const chunks = [tokens(3, V, rng), tokens(1, V, rng)];
      const start = await runner.prefill(leftPadded(prompts));
      const promptMask = Array.from(leftPadded(prompts).attentionMask);
      const ids: bigint[] = [];
      const mask: bigint[] = [];
      const positions: bigint[] = [];
      for (let b = 0; b < 2; b++) {
        const pad = 3 - chunks[b]!.length;
        mask.push(...promptMask.slice(b * 4, (b + 1) * 4));
        for (let i = 0; i < 3; i++) {
          ids.push(i < pad ? 0n : BigInt(chunks[b]![i - pad]!));
          mask.push(i < pad ? 0n : 1n);
          positions.push(i < pad ? 0n : BigInt(prompts[b]!.length + i - pad));
        }
      }
      const chunked = await runner.decode(
        {
          inputIds: BigInt64Array.from(ids),
          attentionMask: BigInt64Array.from(mask),
          positionIds: BigInt64Array.from(positions),
          batchSize: 2,
          newLength: 3,
        },
        start.cache,
        { lastOnly: true },
      );
      expect(chunked.cache.length).toBe(7);
      for (let b = 0; b < 2; b++) {
        const solo = await runner.prefill(leftPadded([[...prompts[b]!, ...chunks[b]!]]), { lastOnly: true });
        expect(maxAbsDiff(chunked.logits.subarray(b * V, (b + 1) * V), solo.logits)).toBeLessThan(1e-5);
      }
    });

    it('decoding twice from one cache (branching) gives independent, correct continuations', async () => {
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const V = config.vocabSize;
      const seq = tokens(4, V, rng);
      const start = await runner.prefill(leftPadded([seq]), { lastOnly: true });
      const step = (cache: typeof start.cache, token: number) =>
        runner.decode(
          {
            inputIds: BigInt64Array.of(BigInt(token)),
            attentionMask: new BigInt64Array(cache.length + 1).fill(1n),
            positionIds: BigInt64Array.of(BigInt(cache.length)),
            batchSize: 1,
            newLength: 1,
          },
          cache,
          { lastOnly: true },
        );
      const a1 = await step(start.cache, 3);
      const b1 = await step(start.cache, 9); // branches off the same prefix
      const a2 = await step(a1.cache, 5); // the first branch must be intact
      const b2 = await step(b1.cache, 5);
      const expectA = await runner.prefill(leftPadded([[...seq, 3, 5]]), { lastOnly: true });
      const expectB = await runner.prefill(leftPadded([[...seq, 9, 5]]), { lastOnly: true });
      expect(maxAbsDiff(a2.logits, expectA.logits)).toBeLessThan(1e-5);
      expect(maxAbsDiff(b2.logits, expectB.logits)).toBeLessThan(1e-5);
      expect(maxAbsDiff(a2.logits, b2.logits)).toBeGreaterThan(1e-3);
    });

    it('the cache grows past its headroom (a long chunk after a short prompt)', async () => {
      const runner = await OrtDecoderRunner.create(config, weights, { threads: 1, ...variant });
      runners.push(runner);
      const V = config.vocabSize;
      const all = tokens(80, V, rng);
      const first = await runner.prefill(leftPadded([all.slice(0, 2)]));
      const chunk = await runner.decode(
        {
          inputIds: BigInt64Array.from(all.slice(2, 78).map(BigInt)),
          attentionMask: new BigInt64Array(78).fill(1n),
          positionIds: BigInt64Array.from({ length: 76 }, (_, i) => BigInt(i + 2)),
          batchSize: 1,
          newLength: 76,
        },
        first.cache,
        { lastOnly: true },
      );
      const next = await runner.decode(
        {
          inputIds: BigInt64Array.of(BigInt(all[78]!)),
          attentionMask: new BigInt64Array(79).fill(1n),
          positionIds: BigInt64Array.of(78n),
          batchSize: 1,
          newLength: 1,
        },
        chunk.cache,
        { lastOnly: true },
      );
      const full = await runner.prefill(leftPadded([all.slice(0, 79)]), { lastOnly: true });
      expect(next.cache.length).toBe(79);
      expect(maxAbsDiff(next.logits, full.logits)).toBeLessThan(1e-4);
    });

    it('train-mode log-probs and entropy match the reference', async () => {
      const seq = tokens(7, config.vocabSize, rng);
      const { graph } = buildDecoderGraph(config, { mode: 'train' });
      const session = await createSession(graph, { threads: 1 });
      const feeds: Record<string, HostValue> = {
        [DECODER_NAMES.inputIds]: {
          dtype: 'int64',
          shape: [1, 7],
          data: BigInt64Array.from(seq.map(BigInt)),
        },
        [DECODER_NAMES.attentionMask]: { dtype: 'int64', shape: [1, 7], data: new BigInt64Array(7).fill(1n) },
        [DECODER_NAMES.positionIds]: {
          dtype: 'int64',
          shape: [1, 7],
          data: BigInt64Array.from([0n, 1n, 2n, 3n, 4n, 5n, 6n]),
        },
        // position t predicts token t+1 (the last target is arbitrary)
        [DECODER_NAMES.targetIds]: {
          dtype: 'int64',
          shape: [1, 7],
          data: BigInt64Array.from([...seq.slice(1), 0].map(BigInt)),
        },
      };
      for (const [name, tensor] of weights)
        feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
      const out = await session.run(feeds);
      const reference = referenceLogProbs(config, weights, seq);
      const logprobs = out[DECODER_NAMES.logprobs]!.data as Float32Array;
      const entropy = out[DECODER_NAMES.entropy]!.data as Float32Array;
      for (let t = 0; t < 6; t++)
        expect(Math.abs(logprobs[t]! - reference.logprobs[t + 1]!)).toBeLessThan(1e-4);
      expect(maxAbsDiff(entropy, reference.entropies)).toBeLessThan(1e-4);
      await session.release();
    });
  },
);

describe('decode graph with an empty past', () => {
  it.each([
    ['batch-major', false],
    ['batch-major', true],
    ['time-major', false],
    ['time-major', true],
  ] as const)('%s (fused %s) equals prefill', async (layout, fused) => {
    const config = tinyQwen2();
    const weights = randomWeights(config, createRng(3));
    const decode = await createSession(
      buildDecoderGraph(config, { mode: 'decode', cacheLayout: layout, fused }).graph,
    );
    const prefill = await createSession(
      buildDecoderGraph(config, { mode: 'prefill', cacheLayout: layout, fused }).graph,
    );
    const feeds: Record<string, HostValue> = {
      [DECODER_NAMES.inputIds]: { dtype: 'int64', shape: [1, 3], data: BigInt64Array.of(1n, 2n, 3n) },
      [DECODER_NAMES.attentionMask]: { dtype: 'int64', shape: [1, 3], data: BigInt64Array.of(1n, 1n, 1n) },
      [DECODER_NAMES.positionIds]: { dtype: 'int64', shape: [1, 3], data: BigInt64Array.of(0n, 1n, 2n) },
    };
    for (const [name, tensor] of weights)
      feeds[name] = { dtype: 'float32', shape: tensor.shape, data: tensor.data };
    const kv = [config.numKeyValueHeads, config.headDim];
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      const shape = layout === 'batch-major' ? [1, kv[0]!, 0, kv[1]!] : [0, 1, ...kv];
      feeds[DECODER_NAMES.pastKey(layer)] = { dtype: 'float32', shape, data: new Float32Array(0) };
      feeds[DECODER_NAMES.pastValue(layer)] = { dtype: 'float32', shape, data: new Float32Array(0) };
    }
    const a = (await decode.run(feeds))[DECODER_NAMES.logits]!.data as Float32Array;
    const b = (await prefill.run(feeds))[DECODER_NAMES.logits]!.data as Float32Array;
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-6);
    await decode.release();
    await prefill.release();
  });
});

describe('decoder graph config checks', () => {
  it('rejects heads that kv heads do not divide, odd head dims and a value head outside train', () => {
    expect(() => buildDecoderGraph({ ...tinyQwen2(), numKeyValueHeads: 3 }, { mode: 'prefill' })).toThrow(
      /numKeyValueHeads/,
    );
    expect(() => buildDecoderGraph({ ...tinyQwen2(), headDim: 5 }, { mode: 'prefill' })).toThrow(
      /even headDim/,
    );
    expect(() => buildDecoderGraph(tinyQwen2(), { mode: 'decode', head: 'value' })).toThrow(
      /train mode only/,
    );
  });
});
