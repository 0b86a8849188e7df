#!/usr/bin/env node
// Writes the data files of examples/ (the starter configs' inputs): a small seeded toy world's
// corpus and questions, and Search-R1-format SFT demonstrations over it. Deterministic: rerunning
// it rewrites the same bytes. `npm run build`, then:
//
//   node apps/trainer/scripts/make-examples.mjs [EXAMPLES_DIR=examples]

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@sr1/core';
import { loadTokenizer } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import {
  BASE_POLICY_MIX,
  demonstrations,
  materializeWorld,
  promptOptions,
  TOY_TEMPLATE,
} from '../dist/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = resolve(process.argv[2] ?? join(root, 'examples'));
const WORLD_SEED = 404; // not a demo world (202, 303) nor a make-base pretraining world (1100…1159)
const world = await materializeWorld(await mkdtemp(join(tmpdir(), 'sr1-examples-')), {
  seed: WORLD_SEED,
  people: 24,
  questionsPerType: 8,
});
await writeFile(join(out, 'toy-corpus.jsonl'), await readFile(world.corpus));
const questions = (await readFile(world.questions, 'utf8')).trim().split('\n');
// Every fourth question is held out for validation during RL.
await writeFile(join(out, 'toy-train.jsonl'), `${questions.filter((_, i) => i % 4 !== 0).join('\n')}\n`);
await writeFile(join(out, 'toy-validation.jsonl'), `${questions.filter((_, i) => i % 4 === 0).join('\n')}\n`);
const tokenizer = await loadTokenizer(join(root, 'packages/model/assets/tokenizer-small'));
const retriever = await InProcessRetriever.open(world.index);
const demos = await demonstrations(
  world.world,
  world.questionList,
  BASE_POLICY_MIX,
  retriever,
  tokenizer,
  createRng(WORLD_SEED),
  promptOptions({ template: TOY_TEMPLATE, chatTemplate: false }),
);
await writeFile(
  join(out, 'sft-data.jsonl'),
  demos.map((demo) => `${JSON.stringify({ segments: demo.segments })}\n`).join(''),
);
await retriever.close();
console.log(
  `examples → ${out}: toy world ${WORLD_SEED} (${questions.length} questions), ${demos.length} SFT demonstrations`,
);
