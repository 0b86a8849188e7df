#!/usr/bin/env node
// Speed against llama.cpp, side by side in one run, same model and thread count: prefill tokens/s,
// decode tokens/s at batch 1, and sr1's aggregate decode tokens/s at batch 8 and 32 (the issue's
// goals: ≥ 1.0× llama.cpp at batch 1; ≥ 4× llama.cpp's one-sequence throughput at batch 32).
// A random Qwen2-architecture model (F32 weights on both sides) is written with sr1, exported with
// `sr1-model export-gguf` and loaded by llama.cpp (node-llama-cpp, installed OUTSIDE the repo).
//
//   mkdir -p /tmp/llamacpp && cd /tmp/llamacpp && npm install --no-save node-llama-cpp@3.21.1
//   npm run build && node scripts/llama-cpp-speed.mjs [--llamacpp /tmp/llamacpp] [--threads 2]
//       [--hidden 512] [--layers 8] [--prefill 256] [--decode 64] [--json]
//
// `measureLlamaCppSpeed(options)` is the same measurement as a function; `sr1-bench perf` imports it.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** The sizes of the recorded runs in docs/benchmarks.md. */
export const LLAMA_CPP_SPEED_DEFAULTS = {
  llamacppDir: '/tmp/llamacpp', // where node-llama-cpp is installed (never a dependency of sr1)
  threads: 2, // both engines, as on the 2-core machines the numbers come from
  hidden: 512, // with 8 layers and vocab 2048: a 25.2M-parameter Qwen2-shaped model
  layers: 8,
  prefillLength: 256, // one prompt of this many tokens
  decodeLength: 64, // greedy tokens after a 32-token prompt
  decodeBatches: [8, 32], // sr1's batched decode, against llama.cpp's one sequence
};

/** node-llama-cpp's entry point inside `llamacppDir`, or where it would be. */
export function llamaCppEntry(llamacppDir) {
  return join(llamacppDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
}

/** The installed node-llama-cpp version, or null when `llamacppDir` does not hold it. */
export function llamaCppVersion(llamacppDir) {
  try {
    const file = join(llamacppDir, 'node_modules', 'node-llama-cpp', 'package.json');
    return String(JSON.parse(readFileSync(file, 'utf8')).version);
  } catch {
    return null;
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Measures sr1 and llama.cpp on the same random model.
 * @param {Partial<typeof LLAMA_CPP_SPEED_DEFAULTS>} options
 * @returns the model's size and both engines' tokens/s: `sr1.decodeTokensPerSecond[b]` per batch b
 *   (1 and each of `decodeBatches`), `llamaCpp.decodeTokensPerSecond` at batch 1.
 */
export async function measureLlamaCppSpeed(options = {}) {
  const { llamacppDir, threads, hidden, layers, prefillLength, decodeLength, decodeBatches } = {
    ...LLAMA_CPP_SPEED_DEFAULTS,
    ...options,
  };
  const version = llamaCppVersion(llamacppDir);
  if (version === null) {
    throw new Error(
      `node-llama-cpp is not installed in ${llamacppDir}: mkdir -p ${llamacppDir} && cd ${llamacppDir} && npm install --no-save node-llama-cpp@3.21.1`,
    );
  }
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const sr1Model = await import(pathToFileURL(join(packageDir, 'dist', 'index.js')).href);
  const { createRng } = await import('@sr1/core');
  const { getLlama } = await import(pathToFileURL(llamaCppEntry(llamacppDir)).href);

  const config = {
    modelType: 'qwen2',
    vocabSize: 2048,
    hiddenSize: hidden,
    intermediateSize: hidden * 3,
    numHiddenLayers: layers,
    numAttentionHeads: hidden / 64,
    numKeyValueHeads: Math.max(1, hidden / 256),
    headDim: 64,
    ropeTheta: 1000000,
    rmsNormEps: 1e-6,
    tieWordEmbeddings: true,
    attentionBias: true,
    outputBias: false,
    mlpBias: false,
    maxPositionEmbeddings: 4096,
    bosTokenId: null,
    eosTokenIds: [2047],
  };
  const work = mkdtempSync(join(tmpdir(), 'sr1-speed-'));
  try {
    const modelDir = join(work, 'model');
    const weights = sr1Model.initWeights(config, createRng(1));
    await sr1Model.saveModelFolder(
      modelDir,
      { config, weights },
      { tokenizerDir: join(packageDir, 'assets', 'tokenizer-small') },
    );
    execFileSync(process.execPath, [
      join(packageDir, 'dist', 'cli.js'),
      'export-gguf',
      '--model',
      modelDir,
      '--out',
      join(work, 'model.gguf'),
    ]);
    const parameters = sr1Model.countParameters(weights);
    const rng = createRng(2);
    const prompt = Array.from({ length: prefillLength }, () => 1 + rng.int(2000));

    // sr1
    const runner = await sr1Model.OrtDecoderRunner.create(config, weights, { threads });
    const tokenizer = await sr1Model.loadTokenizer(modelDir);
    const ids = (rowsCount, length) => ({
      inputIds: BigInt64Array.from({ length: rowsCount * length }, (_, i) => BigInt(prompt[i % length])),
      batchSize: rowsCount,
      newLength: length,
      attentionMask: new BigInt64Array(rowsCount * length).fill(1n),
      positionIds: BigInt64Array.from({ length: rowsCount * length }, (_, i) => BigInt(i % length)),
    });
    await runner.prefill(ids(1, prefillLength), { lastOnly: true });
    const prefillTimes = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await runner.prefill(ids(1, prefillLength), { lastOnly: true });
      prefillTimes.push((performance.now() - t) / 1000);
    }
    const sr1Prefill = prefillLength / median(prefillTimes);
    const decodeRate = async (batch) => {
      const prompts = Array.from({ length: batch }, () => prompt.slice(0, 32));
      const t = performance.now();
      const out = await sr1Model.generate(runner, tokenizer, prompts, {
        maxNewTokens: decodeLength,
        temperature: 0,
        eosTokenIds: [],
      });
      const seconds = (performance.now() - t) / 1000;
      return out.reduce((sum, s) => sum + s.tokenIds.length, 0) / seconds;
    };
    await decodeRate(1);
    const sr1Decode = { 1: await decodeRate(1) };
    for (const batch of decodeBatches) sr1Decode[batch] = await decodeRate(batch);
    await runner.dispose();

    // llama.cpp
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: join(work, 'model.gguf'), gpuLayers: 0 });
    const context = await model.createContext({
      contextSize: 2048,
      batchSize: 512,
      threads,
      flashAttention: false,
    });
    const sequence = context.getSequence();
    const llamaPrefillTimes = [];
    for (let i = 0; i < 4; i++) {
      await sequence.clearHistory();
      const t = performance.now();
      await sequence.controlledEvaluate(
        prompt.map((token, j) =>
          j === prompt.length - 1 ? [token, { generateNext: { token: true } }] : token,
        ),
      );
      if (i > 0) llamaPrefillTimes.push((performance.now() - t) / 1000);
    }
    const llamaPrefill = prefillLength / median(llamaPrefillTimes);
    const llamaDecodeRate = async () => {
      await sequence.clearHistory();
      let count = 0;
      const t0 = performance.now();
      for await (const _token of sequence.evaluate(prompt.slice(0, 32), { temperature: 0 })) {
        if (++count >= decodeLength) break;
      }
      return count / ((performance.now() - t0) / 1000);
    };
    await llamaDecodeRate();
    const llamaDecode1 = await llamaDecodeRate();
    await context.dispose();
    await model.dispose();

    return {
      parameters,
      threads,
      hidden,
      layers,
      prefillLength,
      decodeLength,
      llamaCppVersion: version,
      sr1: { prefillTokensPerSecond: sr1Prefill, decodeTokensPerSecond: sr1Decode },
      llamaCpp: { prefillTokensPerSecond: llamaPrefill, decodeTokensPerSecond: llamaDecode1 },
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main() {
  const defaults = LLAMA_CPP_SPEED_DEFAULTS;
  const { values } = parseArgs({
    options: {
      llamacpp: { type: 'string', default: defaults.llamacppDir },
      threads: { type: 'string', default: String(defaults.threads) },
      hidden: { type: 'string', default: String(defaults.hidden) },
      layers: { type: 'string', default: String(defaults.layers) },
      prefill: { type: 'string', default: String(defaults.prefillLength) },
      decode: { type: 'string', default: String(defaults.decodeLength) },
      json: { type: 'boolean', default: false },
    },
  });
  const result = await measureLlamaCppSpeed({
    llamacppDir: values.llamacpp,
    threads: Number(values.threads),
    hidden: Number(values.hidden),
    layers: Number(values.layers),
    prefillLength: Number(values.prefill),
    decodeLength: Number(values.decode),
  });
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  const { parameters, threads, hidden, layers, prefillLength, decodeLength, sr1, llamaCpp } = result;
  console.log(JSON.stringify({ parameters, threads, hidden, layers, prefillLength, decodeLength }));
  const rows = [
    [`prefill tokens/s (1 × ${prefillLength})`, sr1.prefillTokensPerSecond, llamaCpp.prefillTokensPerSecond],
    ['decode tokens/s, batch 1', sr1.decodeTokensPerSecond[1], llamaCpp.decodeTokensPerSecond],
    ...defaults.decodeBatches.map((batch) => [
      `aggregate decode tokens/s, sr1 batch ${batch} vs llama.cpp batch 1`,
      sr1.decodeTokensPerSecond[batch],
      llamaCpp.decodeTokensPerSecond,
    ]),
  ];
  for (const [what, ours, theirs] of rows) {
    console.log(
      `${what}: sr1 ${ours.toFixed(1)}, llama.cpp ${theirs.toFixed(1)}, ratio ${(ours / theirs).toFixed(2)}`,
    );
  }
}

// Run as a script (npm run bench:llama-cpp), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
