#!/usr/bin/env node
// Teacher-forced reading probe of a policy on a fresh toy world: for every question, the perfect
// ('plan') demonstration is cut before each of the agent's turns, the policy continues greedily,
// and the probe counts, per question type and turn, exact continuations and correct answers.
// Turns: 0 "<think> I need to find X", 1 the first search, 2 reading the first passage (the answer
// of a single-hop question), 3 the second search, 4 reading the second passage (the answer).
//
//   node apps/trainer/scripts/reading-probe.mjs POLICY_DIR [WORLD_SEED=9000] [PEOPLE=40] [PER_TYPE=20]

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { generate, loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { demonstrate, materializeWorld, promptOptions, TOY_TEMPLATE } from '../dist/index.js';

const [policy, seed = '9000', people = '40', perType = '20'] = process.argv.slice(2);
if (policy === undefined) {
  console.error('usage: reading-probe.mjs POLICY_DIR [WORLD_SEED] [PEOPLE] [PER_TYPE]');
  process.exit(2);
}
const model = await loadModelFolder(policy);
const tokenizer = await loadTokenizer(policy);
const runner = await OrtDecoderRunner.create(model.config, model.weights);
const world = await materializeWorld(await mkdtemp(join(tmpdir(), 'sr1-probe-')), {
  seed: Number(seed),
  people: Number(people),
  questionsPerType: Number(perType),
});
const retriever = await InProcessRetriever.open(world.index);
const prompt = promptOptions({ template: TOY_TEMPLATE, chatTemplate: false });
const rng = createRng(1);
const cases = [];
for (const question of world.questionList) {
  const segments = await demonstrate(world.world, question, 'plan', retriever, tokenizer, rng, prompt);
  let prefix = '';
  let turn = 0;
  for (const segment of segments) {
    if (segment.loss) cases.push({ type: question.type, turn: turn++, prefix, target: segment.text });
    prefix += segment.text;
  }
}
const answerOf = (text) => /<answer>(.*?)<\/answer>/.exec(text)?.[1]?.trim();
const stats = new Map();
for (let start = 0; start < cases.length; start += 32) {
  const chunk = cases.slice(start, start + 32);
  const out = await generate(
    runner,
    tokenizer,
    chunk.map((c) => c.prefix),
    { maxNewTokens: 80, temperature: 0, stop: ['</search>', '</answer>'] },
  );
  chunk.forEach((c, i) => {
    const key = `${c.type} turn ${c.turn}`;
    const s = stats.get(key) ?? { cases: 0, exact: 0, answers: 0, correctAnswers: 0 };
    const got = out[i].text.trim();
    s.cases++;
    if (got === c.target.trim()) s.exact++;
    const gold = answerOf(c.target);
    if (gold !== undefined) {
      s.answers++;
      if (answerOf(got) === gold) s.correctAnswers++;
    }
    stats.set(key, s);
  });
}
console.log(`policy ${policy}, world ${seed} (${people} people, ${perType} questions per type)`);
for (const [key, s] of stats) {
  const answers = s.answers > 0 ? `, correct answer ${s.correctAnswers}/${s.answers}` : '';
  console.log(`${key}: exact ${s.exact}/${s.cases}${answers}`);
}
await runner.dispose();
