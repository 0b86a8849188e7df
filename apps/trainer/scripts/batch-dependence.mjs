#!/usr/bin/env node
// Does a row's log-prob depend on what else shares its forward? Greedy generation of prompt A
// alone (twice), then of A beside a longer prompt B in one batch, at 1 ORT thread; prints the
// largest |Δ log-prob| of A's tokens. Alone twice is exact; beside B the padded batch's kernels
// round A's row differently. This is why the async-worker engine, whose decode batches depend on
// when each search returns, is not bit-for-bit repeatable over a long run (docs/results.md,
// "An over-searching base", Repeatability).
//
//   node apps/trainer/scripts/batch-dependence.mjs [POLICY_DIR=apps/trainer/assets/base-policy-oversearch]

import { fileURLToPath } from 'node:url';
import { generate, loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';

const dir = process.argv[2] ?? fileURLToPath(new URL('../assets/base-policy-oversearch', import.meta.url));
const model = await loadModelFolder(dir);
const tokenizer = await loadTokenizer(dir);
const runner = await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 });
const a = 'Answer the question. Question: In which city was Zokor Gadoul born?\n';
const b =
  'Answer the question, searching first if you need to. Question: What was the occupation of Beidror Kraivan, the painter of the north?\n';
const options = { maxNewTokens: 24, temperature: 0 };
const [alone] = await generate(runner, tokenizer, [a], options);
const [again] = await generate(runner, tokenizer, [a], options);
const [beside] = await generate(runner, tokenizer, [a, b], options);
const largest = (x, y) => Math.max(...x.logprobs.map((v, i) => Math.abs(v - y.logprobs[i])));
console.log(`A's tokens alone and beside B the same: ${alone.tokenIds.join() === beside.tokenIds.join()}`);
console.log(`A alone, twice:   max |Δ log-prob| = ${largest(alone, again)}`);
console.log(`A alone, beside B: max |Δ log-prob| = ${largest(alone, beside)}`);
