// make-base's command-line spelling of a style mix (every style named, left-out styles 0, a typed
// error naming --mix for anything else), and its memorisation drill: the recall's own tokens, the
// loss on the answer only.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng, InvalidInputError } from '@sr1/core';
import { loadTokenizer } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { famousPeople, knownQuestions, type ToyQuestion } from '@sr1/toy-world';
import { describe, expect, it } from 'vitest';
import {
  makeBaseWorkDir,
  parseStyleMix,
  RECALL_OPENING,
  recallDrill,
  recallOpening,
  searchDrill,
} from './make-base.js';
import { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
import { BASE_POLICY_MIX, type DemonstrationStyle, demonstrate, type OpeningOptions } from './toy-data.js';
import { materializeWorld } from './toy-setup.js';

const KNOWN_BASE = fileURLToPath(new URL('../assets/base-policy-known', import.meta.url));

/** The known base's tokenizer, the toy prompt and a small world with its index, for the drill tests. */
async function drillFixture(options: { seed: number; questionsPerType: number; famous?: boolean }) {
  const tokenizer = await loadTokenizer(KNOWN_BASE);
  const prompt = promptOptions({ template: TOY_TEMPLATE, chatTemplate: false });
  const famous = options.famous === true ? famousPeople(24) : [];
  const world = await materializeWorld(join(await mkdtemp(join(tmpdir(), 'sr1-drill-')), 'world'), {
    seed: options.seed,
    people: 4,
    questionsPerType: options.questionsPerType,
    famous,
  });
  const retriever = await InProcessRetriever.open(world.index);
  const ids = (segments: { text: string }[]) => segments.flatMap((s) => tokenizer.encode(s.text));
  /** `question`'s whole demonstration in `style` (top-3 retrieval, a generator seeded with `seed`). */
  const demo = (question: ToyQuestion, style: DemonstrationStyle, opening: OpeningOptions = {}, seed = 1) =>
    demonstrate(world.world, question, style, retriever, tokenizer, createRng(seed), prompt, 3, opening);
  return { tokenizer, prompt, famous, world, retriever, ids, demo };
}

describe('parseStyleMix', () => {
  it('reads STYLE:SHARE pairs; styles left out get 0', () => {
    expect(parseStyleMix('plan:0.3,direct:0.35,vague:0.15,read:0.2')).toEqual(BASE_POLICY_MIX);
    expect(parseStyleMix(' plan:0.6 , read:0.2')).toEqual({ plan: 0.6, direct: 0, vague: 0, read: 0.2 });
  });

  it.each([
    ['plan:0.5,guess:0.5', "got 'guess:0.5'"],
    ['plan', "expected a share ≥ 0 in 'plan'"],
    ['plan:x', "expected a share ≥ 0 in 'plan:x'"],
    ['plan:-0.1', "expected a share ≥ 0 in 'plan:-0.1'"],
    ['plan:0.5:1', "got 'plan:0.5:1'"],
    ['plan:0,read:0', 'every share is 0'],
  ])('refuses %j with an error naming --mix', (spec, message) => {
    let error: unknown;
    try {
      parseStyleMix(spec);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).flag).toBe('--mix');
    expect((error as InvalidInputError).message).toContain(message);
  });
});

describe('recallDrill', () => {
  it("has the recall demonstration's tokens, with the loss on the answer only", async () => {
    const { tokenizer, prompt, famous, retriever, ids, demo } = await drillFixture({
      seed: 5,
      questionsPerType: 1,
      famous: true,
    });
    for (const question of knownQuestions(famous).slice(0, 6)) {
      const drill = recallDrill(question, tokenizer, prompt);
      const recall = await demo(question, 'recall');
      expect(ids(drill)).toEqual(ids(recall));
      expect(drill.map((s) => s.loss)).toEqual([false, false, true]);
      expect(drill[1]!.text).toBe(RECALL_OPENING);
      expect(drill[2]!.text).toBe(` ${question.golden_answers[0]} </answer>`);
      // --drill-choice: the same tokens, the loss on the opening (the choice) as well.
      const choice = recallDrill(question, tokenizer, prompt, {}, true);
      expect(ids(choice)).toEqual(ids(recall));
      expect(choice.map((s) => s.loss)).toEqual([false, true, true]);
    }
    await retriever.close();
  });
});

describe('--restate-name', () => {
  it("opens every first <think> with the subject's name, then the choice; drills keep the recall's tokens", async () => {
    const { tokenizer, prompt, famous, retriever, ids, demo } = await drillFixture({
      seed: 5,
      questionsPerType: 1,
      famous: true,
    });
    const opening = { restateName: true };
    const question = knownQuestions(famous)[0]!;
    const name = question.plan[0]!;
    const say = (segments: { text: string; loss: boolean }[]) => segments.filter((s) => s.loss)[0]!.text;
    const recall = await demo(question, 'recall', opening);
    const plan = await demo(question, 'plan', opening);
    expect(say(recall)).toBe(
      `<think> ${name}: I already know this. </think>\n<answer> ${question.golden_answers[0]} </answer>`,
    );
    expect(say(plan)).toBe(`<think> ${name}: I need to find ${name}. </think>\n`);
    // The tokens up to the choice are the same in both: the name, then the colon, then "I".
    const common = tokenizer.encode(`<think> ${name}: I`);
    expect(tokenizer.encode(say(recall)).slice(0, common.length)).toEqual(common);
    expect(tokenizer.encode(say(plan)).slice(0, common.length)).toEqual(common);
    expect(tokenizer.encode(say(recall))[common.length]).not.toBe(tokenizer.encode(say(plan))[common.length]);
    // The drill is the recall's tokens, its opening the restated one.
    const drill = recallDrill(question, tokenizer, prompt, opening);
    expect(ids(drill)).toEqual(ids(recall));
    expect(drill[1]!.text).toBe(recallOpening(question, opening));
    // Off by default: the old wording.
    const old = await demo(question, 'plan');
    expect(say(old)).toBe(`<think> I need to find ${name}. </think>\n`);
    expect(recallOpening(question)).toBe(RECALL_OPENING);
    await retriever.close();
  });
});

describe('searchDrill', () => {
  it("is the plan demonstration's opening up to its first information block, the loss on the agent's words", async () => {
    const { tokenizer, prompt, world, retriever, ids, demo } = await drillFixture({
      seed: 6,
      questionsPerType: 2,
    });
    for (const opening of [{}, { restateName: true }]) {
      for (const question of world.questionList) {
        const drill = await searchDrill(world.world, question, retriever, tokenizer, prompt, opening);
        const plan = await demo(question, 'plan', opening, 9);
        expect(drill.map((s) => s.loss)).toEqual([false, true, true, false]);
        const name = question.plan[0]!;
        const think = opening.restateName === true ? `<think> ${name}:` : '<think>';
        expect(drill[1]!.text).toBe(`${think} I need to find ${name}. </think>\n`);
        expect(drill[2]!.text).toBe(`<search> ${name} </search>`);
        expect(drill[3]!.text).toContain('<information>');
        // A prefix of the whole plan, token for token; the plan goes on after it.
        expect(ids(plan).slice(0, ids(drill).length)).toEqual(ids(drill));
        expect(plan.length).toBeGreaterThan(drill.length);
      }
    }
    await retriever.close();
  });
});

describe('makeBaseWorkDir', () => {
  const recipe = {
    out: 'runs/base-a',
    modelConfig: 'assets/base-model-config.json',
    tokenizer: 'assets/tokenizer-small',
    seed: 19,
    worlds: 20,
    questionsPerType: 20,
    steps: 350,
    famous: 24,
    knownDrills: 5,
  };

  it('is the same for the same recipe (a killed run resumes), whatever the output, threads or display', () => {
    const dir = makeBaseWorkDir('runs', recipe);
    expect(dir).toMatch(/^runs\/make-base-seed19-[0-9a-f]{12}$/);
    expect(makeBaseWorkDir('runs', { ...recipe, out: 'elsewhere', threads: 1, quiet: true })).toBe(dir);
  });

  it('differs for any change to the data or the training, so a new recipe never resumes an old run', () => {
    const dir = makeBaseWorkDir('runs', recipe);
    const changes = [
      { searchDrills: 2 },
      { drillChoice: true },
      { knownDrills: 4 },
      { restateName: true },
      { recallShare: 0.85 },
      { mix: { plan: 0.65, direct: 0, vague: 0.15, read: 0.2 } },
      { steps: 351 },
      { lr: 1e-3 },
      { from: 'assets/base-policy-known' },
      { worlds: 21 },
      { famous: 12 },
    ];
    const dirs = changes.map((change) => makeBaseWorkDir('runs', { ...recipe, ...change }));
    for (const other of dirs) expect(other).not.toBe(dir);
    expect(new Set(dirs).size).toBe(changes.length);
  });
});
