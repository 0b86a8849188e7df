#!/usr/bin/env node
// Probe of a policy's first action on known and unseen facts: for the 48 facts of the well-known
// people (`famousPeople(24)`) and 48 single-hop questions about a fresh world's own people, the
// policy continues the agent prompt greedily up to its first action; the probe counts, per kind,
// how often it answers at once, how often that answer is right, and how often it searches; then,
// teacher-forced to answer from memory ("<think> I already know this. </think>\n<answer>"), how
// many it gets right — what the policy has memorised, whatever it chooses to do greedily. Then the
// same two at temperature 1 (RL's sampling), SAMPLES draws per question (seeded): the share of
// first actions that search, and the share of forced recalls that are right. With --restate-name
// (a base made with `make-base --restate-name`) the forced recall opens with the name, as that
// base's recalls do: "<think> NAME: I already know this. </think>\n<answer>".
//
//   node apps/trainer/scripts/known-probe.mjs POLICY_DIR [WORLD_SEED=9100] [SAMPLES=8] [--restate-name]

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';
import { exactMatch } from '@sr1/reward';
import { buildPrompt } from '@sr1/rollout';
import { famousPeople, knownQuestions } from '@sr1/toy-world';
import { materializeWorld, promptOptions, TOY_TEMPLATE } from '../dist/index.js';

const argv = process.argv.slice(2);
const restateName = argv.includes('--restate-name');
const [policy, seed = '9100', samplesArg = '8'] = argv.filter((arg) => arg !== '--restate-name');
const samples = Number(samplesArg);
if (policy === undefined) {
  console.error('usage: known-probe.mjs POLICY_DIR [WORLD_SEED] [SAMPLES]');
  process.exit(2);
}
const model = await loadModelFolder(policy);
const tokenizer = await loadTokenizer(policy);
const runner = await OrtDecoderRunner.create(model.config, model.weights);
const famous = famousPeople(24);
const world = await materializeWorld(await mkdtemp(join(tmpdir(), 'sr1-known-probe-')), {
  seed: Number(seed),
  people: 200,
  questionsPerType: 48,
  famous,
});
const cases = [
  ...knownQuestions(famous).map((q) => ({ kind: 'known', q })),
  ...world.questionList.filter((q) => q.type === 'single-hop').map((q) => ({ kind: 'unseen', q })),
];
const prompt = promptOptions({ template: TOY_TEMPLATE, chatTemplate: false });
const answerOf = (text) => /<answer>(.*?)<\/answer>/s.exec(text)?.[1]?.trim();
const stats = new Map();
for (let start = 0; start < cases.length; start += 32) {
  const chunk = cases.slice(start, start + 32);
  const out = await generate(
    runner,
    tokenizer,
    chunk.map((c) => buildPrompt(c.q.question, tokenizer, prompt)),
    { maxNewTokens: 96, temperature: 0, stop: ['</search>', '</answer>'] },
  );
  chunk.forEach((c, i) => {
    const s = stats.get(c.kind) ?? { questions: 0, answered: 0, correct: 0, searched: 0 };
    const text = out[i].text;
    s.questions++;
    if (text.includes('<search>')) s.searched++;
    const answer = answerOf(`${text}</answer>`);
    if (!text.includes('<search>') && answer !== undefined) {
      s.answered++;
      s.correct += exactMatch(answer, c.q.golden_answers);
    }
    stats.set(c.kind, s);
  });
}
// The recall's opening, as make-base's recallOpening writes it.
const recall = (c) =>
  `<think>${restateName ? ` ${c.q.plan[0]}:` : ''} I already know this. </think>\n<answer>`;
for (let start = 0; start < cases.length; start += 32) {
  const chunk = cases.slice(start, start + 32);
  const out = await generate(
    runner,
    tokenizer,
    chunk.map((c) => buildPrompt(c.q.question, tokenizer, prompt) + recall(c)),
    { maxNewTokens: 24, temperature: 0, stop: ['</answer>'] },
  );
  chunk.forEach((c, i) => {
    const s = stats.get(c.kind);
    s.recalled =
      (s.recalled ?? 0) + exactMatch(out[i].text.replace('</answer>', '').trim(), c.q.golden_answers);
  });
}
// Temperature 1, `samples` draws of each question (first action; forced recall).
const drawn = cases.flatMap((c) => Array.from({ length: samples }, () => c));
for (let start = 0; start < drawn.length; start += 32) {
  const chunk = drawn.slice(start, start + 32);
  const first = await generate(
    runner,
    tokenizer,
    chunk.map((c) => buildPrompt(c.q.question, tokenizer, prompt)),
    { maxNewTokens: 96, temperature: 1, seed: 1 + start, stop: ['</search>', '</answer>'] },
  );
  const recalled = await generate(
    runner,
    tokenizer,
    chunk.map((c) => buildPrompt(c.q.question, tokenizer, prompt) + recall(c)),
    { maxNewTokens: 24, temperature: 1, seed: 2 + start, stop: ['</answer>'] },
  );
  chunk.forEach((c, i) => {
    const s = stats.get(c.kind);
    s.sampledSearched = (s.sampledSearched ?? 0) + (first[i].text.includes('<search>') ? 1 : 0);
    s.sampledRecalled =
      (s.sampledRecalled ?? 0) +
      exactMatch(recalled[i].text.replace('</answer>', '').trim(), c.q.golden_answers);
  });
}
await runner.dispose();
console.log(
  '| kind | questions | answered at once | of which right | searched first | right when forced to recall |' +
    ` sampled (T=1, ${samples}/q): searched first | sampled: right when forced to recall |`,
);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [kind, s] of stats) {
  const share = (n) => (samples > 0 ? (n / (s.questions * samples)).toFixed(3) : '–');
  console.log(
    `| ${kind} | ${s.questions} | ${s.answered} | ${s.correct} | ${s.searched} | ${s.recalled} | ${share(s.sampledSearched ?? 0)} | ${share(s.sampledRecalled ?? 0)} |`,
  );
}
