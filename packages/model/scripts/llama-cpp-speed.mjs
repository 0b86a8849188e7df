#!/usr/bin/env node
// Speed against llama.cpp, side by side in one run, same model and thread count: prefill tokens/s,
// decode tokens/s at batch 1, and sr1's aggregate decode tokens/s at batch 8 and 32 (the issue's
// goals: ≥ 1.0× llama.cpp at batch 1; ≥ 4× llama.cpp's one-sequence throughput at batch 32).
// A random Qwen2-architecture model (F32 weights on both sides) is written with sr1, exported with
// `sr1-model export-gguf` and loaded by llama.cpp (node-llama-cpp, installed OUTSIDE the repo).
//
//   mkdir -p /tmp/llamacpp && cd /tmp/llamacpp && npm install --no-save node-llama-cpp@3.21.1
//   npm run build && node scripts/llama-cpp-speed.mjs [--llamacpp /tmp/llamacpp] [--threads 2]
//       [--hidden 512] [--layers 8] [--prefill 256] [--decode 64]

import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    llamacpp: { type: 'string', default: '/tmp/llamacpp' },
    threads: { type: 'string', default: '2' },
    hidden: { type: 'string', default: '512' },
    layers: { type: 'string', default: '8' },
    prefill: { type: 'string', default: '256' },
    decode: { type: 'string', default: '64' },
  },
});
const threads = Number(values.threads);
const hidden = Number(values.hidden);
const layers = Number(values.layers);
const prefillLength = Number(values.prefill);
const decodeLength = Number(values.decode);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const sr1Model = await import(pathToFileURL(join(packageDir, 'dist', 'index.js')).href);
const { createRng } = await import('@sr1/core');
const { getLlama } = await import(
  pathToFileURL(join(values.llamacpp, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href
);

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
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];

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
const sr1Decode1 = await decodeRate(1);
const sr1Decode8 = await decodeRate(8);
const sr1Decode32 = await decodeRate(32);
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
    prompt.map((token, j) => (j === prompt.length - 1 ? [token, { generateNext: { token: true } }] : token)),
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

rows.push(['prefill tokens/s (1 × ' + prefillLength + ')', sr1Prefill, llamaPrefill]);
rows.push(['decode tokens/s, batch 1', sr1Decode1, llamaDecode1]);
rows.push(['aggregate decode tokens/s, sr1 batch 8 vs llama.cpp batch 1', sr1Decode8, llamaDecode1]);
rows.push(['aggregate decode tokens/s, sr1 batch 32 vs llama.cpp batch 1', sr1Decode32, llamaDecode1]);
console.log(JSON.stringify({ parameters, threads, hidden, layers, prefillLength, decodeLength }));
for (const [what, ours, theirs] of rows) {
  console.log(
    `${what}: sr1 ${ours.toFixed(1)}, llama.cpp ${theirs.toFixed(1)}, ratio ${(ours / theirs).toFixed(2)}`,
  );
}
