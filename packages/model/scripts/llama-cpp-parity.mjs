#!/usr/bin/env node
// Parity check against llama.cpp: builds random tiny qwen2 and llama models with `sr1-model init`,
// exports them with `sr1-model export-gguf`, loads the GGUF in llama.cpp (node-llama-cpp, installed
// OUTSIDE the repo) and compares per-token log-probs with `sr1-model score` (max |diff| ≤ 1e-3)
// and the tokenisation of a text with sr1's tokenizer.
//
//   mkdir -p /tmp/llamacpp && cd /tmp/llamacpp && npm install --no-save node-llama-cpp@3.21.1
//   npm run build && node scripts/llama-cpp-parity.mjs [--llamacpp /tmp/llamacpp] [--tolerance 1e-3]

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { llamacpp: { type: 'string' }, tolerance: { type: 'string' } },
});
const llamacppDir = values.llamacpp ?? '/tmp/llamacpp';
const tolerance = Number(values.tolerance ?? '1e-3');
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const cli = join(packageDir, 'dist', 'cli.js');
const tokenizerDir = join(packageDir, 'assets', 'tokenizer-small');
const { loadModelFolder, saveModelFolder } = await import(
  pathToFileURL(join(packageDir, 'dist', 'index.js')).href
);
const { createRng } = await import('@sr1/core');
const { getLlama } = await import(
  pathToFileURL(join(llamacppDir, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href
);

const text =
  'Answer the question. <think> I should search. </think>\n<search> capital of France </search>\n\n' +
  '<information>Doc 1(Title: "Paris") Paris is the capital and largest city of France.</information>\n\n<answer> Paris </answer>';
const { loadTokenizer } = await import(pathToFileURL(join(packageDir, 'dist', 'index.js')).href);
const sr1Tokenizer = await loadTokenizer(tokenizerDir);
const corpusFile = join(packageDir, '..', '..', '..', 'shared', 'data', 'corpus.jsonl');
const samples = existsSync(corpusFile)
  ? readFileSync(corpusFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .slice(0, 300)
      .map((line) => JSON.parse(line).contents)
  : [];
const sr1 = (...args) => execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const work = mkdtempSync(join(tmpdir(), 'sr1-parity-'));
const llama = await getLlama({ gpu: false });
let worst = 0;
let failed = false;
const variants = [
  { name: 'qwen2', modelType: 'qwen2', extra: {} },
  { name: 'llama', modelType: 'llama', extra: { attention_bias: true } },
  // GQA with head_dim ≠ hidden / heads and MLP biases
  {
    name: 'llama-hd32-mlp-bias',
    modelType: 'llama',
    extra: { attention_bias: false, mlp_bias: true, head_dim: 32 },
  },
];
for (const { name, modelType, extra } of variants) {
  const configFile = join(work, `${name}.json`);
  writeFileSync(
    configFile,
    JSON.stringify({
      model_type: modelType,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 512,
      rope_theta: 10000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: modelType === 'qwen2',
      ...extra,
    }),
  );
  const modelDir = join(work, name);
  const ggufFile = join(work, `${name}.gguf`);
  // std 0.15 instead of 0.02 so the random model's distributions are far from uniform
  sr1(
    'init',
    '--config',
    configFile,
    '--tokenizer',
    tokenizerDir,
    '--out',
    modelDir,
    '--seed',
    '7',
    '--init-std',
    '0.15',
  );
  // Biases start at zero and norms at one, which would hide a wrong bias or norm mapping: randomise them.
  const model0 = await loadModelFolder(modelDir);
  const rng = createRng(11);
  for (const [tensorName, tensor] of model0.weights) {
    if (tensorName.endsWith('.bias'))
      for (let i = 0; i < tensor.data.length; i++) tensor.data[i] = 0.1 * rng.normal();
    if (tensorName.endsWith('norm.weight'))
      for (let i = 0; i < tensor.data.length; i++) tensor.data[i] = 1 + 0.2 * rng.normal();
  }
  await saveModelFolder(modelDir, model0, { tokenizerDir });
  sr1('export-gguf', '--model', modelDir, '--out', ggufFile);
  const ours = JSON.parse(sr1('score', '--model', modelDir, '--text', text, '--json'));
  const reference = JSON.parse(
    sr1('score', '--model', modelDir, '--text', text, '--json', '--engine', 'reference'),
  );

  const model = await llama.loadModel({ modelPath: ggufFile, gpuLayers: 0 });
  const theirTokens = [...model.tokenize(text)];
  let sameTokens = JSON.stringify(theirTokens) === JSON.stringify(ours.tokens);
  // Tokenisation of real passages (unicode, digits, punctuation, newlines) and odd strings.
  let passagesChecked = 0;
  for (const sample of [...samples, ' spaces  and\ttabs\r\n\n', "it's 1,234.5 — naïve 東京 🚀", '']) {
    if (JSON.stringify([...model.tokenize(sample)]) !== JSON.stringify(sr1Tokenizer.encode(sample))) {
      sameTokens = false;
      console.log(`tokenisation differs on ${JSON.stringify(sample.slice(0, 80))}`);
    }
    passagesChecked++;
  }
  // Full precision on llama.cpp's side: its default flash-attention path (F16) moves log-probs
  // by ~4e-3 on these models; plain attention with an F32 KV cache agrees to ~3e-6.
  const context = await model.createContext({
    contextSize: 512,
    batchSize: 512,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  const sequence = context.getSequence();
  const input = ours.tokens.map((token) => [
    token,
    { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } },
  ]);
  const outputs = await sequence.controlledEvaluate(input);
  let maxDiff = 0;
  let maxDiffReference = 0;
  let vocabSeen = 0;
  for (let i = 1; i < ours.tokens.length; i++) {
    const probabilities = outputs[i - 1]?.next?.probabilities;
    vocabSeen = Math.max(vocabSeen, probabilities?.size ?? 0);
    const probability = probabilities?.get(ours.tokens[i]);
    const theirs = probability === undefined ? Number.NEGATIVE_INFINITY : Math.log(probability);
    maxDiff = Math.max(maxDiff, Math.abs(theirs - ours.logprobs[i]));
    maxDiffReference = Math.max(maxDiffReference, Math.abs(theirs - reference.logprobs[i]));
  }
  // Greedy continuation of a prompt: sr1's KV-cache generation vs llama.cpp's.
  const prompt = 'Question: what is the capital of France?\n<think>';
  const ourGreedy = JSON.parse(
    sr1(
      'generate',
      '--model',
      modelDir,
      '--prompt',
      prompt,
      '--temperature',
      '0',
      '--max-new-tokens',
      '16',
      '--json',
    ),
  ).tokenIds;
  await sequence.clearHistory();
  const theirGreedy = [];
  for await (const token of sequence.evaluate([...model.tokenize(prompt)], { temperature: 0 })) {
    theirGreedy.push(token);
    if (theirGreedy.length >= ourGreedy.length) break;
  }
  const sameGreedy = JSON.stringify(theirGreedy) === JSON.stringify(ourGreedy);
  await context.dispose();
  await model.dispose();
  worst = Math.max(worst, maxDiff);
  const ok = maxDiff <= tolerance && sameTokens && sameGreedy;
  failed ||= !ok;
  console.log(
    `${name}: ${ours.tokens.length} tokens, tokenisation of ${passagesChecked + 1} texts ${sameTokens ? 'identical' : 'DIFFERENT'}; ` +
      `max |log-prob diff| llama.cpp vs sr1 ort ${maxDiff.toExponential(3)}, vs sr1 float64 reference ` +
      `${maxDiffReference.toExponential(3)} (probabilities over ${vocabSeen} tokens); greedy ${ourGreedy.length} tokens ` +
      `${sameGreedy ? 'identical' : `DIFFERENT (sr1 ${ourGreedy} vs llama.cpp ${theirGreedy})`} → ${ok ? 'OK' : 'FAIL'}`,
  );
}
console.log(`worst ${worst.toExponential(3)} (tolerance ${tolerance}); files in ${work}`);
process.exitCode = failed ? 1 : 0;
