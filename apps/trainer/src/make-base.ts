// `sr1-train make-base`: the toy world's base policy. SFT of a small Qwen2-architecture model on
// Search-R1-format demonstrations over a pretraining world (seeded mix of good searches, guesses
// and vague searches), so the model knows the tags and how to read passages but searches badly.

import { createHash } from 'node:crypto';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createRng, InvalidInputError } from '@sr1/core';
import { loadTokenizer } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { buildPrompt, type PromptOptions, type Retriever, type Tokenizer } from '@sr1/rollout';
import { famousPeople, knownQuestions, type ToyQuestion, type ToyWorld } from '@sr1/toy-world';
import type { Segment } from '@sr1/train';
import { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
import { parseSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import {
  BASE_POLICY_MIX,
  type DemonstrationStyle,
  demonstrate,
  demonstrations,
  KNOWN_FACT_MIX,
  type OpeningOptions,
  type StyleMix,
  thinkOpening,
} from './toy-data.js';
import { materializeWorld } from './toy-setup.js';

export interface MakeBaseOptions {
  out: string;
  workDir: string;
  modelConfig: string;
  tokenizer: string;
  /** Pretraining worlds have seeds seed·100 + k, k < worlds (the demo's worlds 202 and 303 are not among them). */
  seed: number;
  /** Many small worlds, so that names never repeat enough to be memorised: copying is the only way. */
  worlds: number;
  questionsPerType: number; // per world
  steps: number;
  /** Continue from this model folder instead of a random initialisation. */
  from?: string;
  /** Peak learning rate. */
  lr?: number; // 2e-3: from scratch; continued training uses less
  /**
   * Well-known people (`famousPeople(famous)`) in every pretraining world, with their facts asked in
   * every world (`KNOWN_FACT_MIX`: half answered from memory, half looked up), so the policy
   * memorises them. 0 (default): none, the committed base policy's recipe.
   */
  famous?: number;
  /**
   * Share of the well-known people's facts answered at once from memory ('recall'); the rest are
   * looked up ('plan'). Default `KNOWN_FACT_MIX`'s 0.5.
   */
  recallShare?: number;
  /**
   * Memorisation drills per well-known fact and world (default 0): the recall demonstration with
   * the loss on the answer only, so the fact is learnt without moving the choice between
   * answering at once and searching (which the recall share sets).
   */
  knownDrills?: number;
  /**
   * The memorisation drills also carry the loss on their opening (`<think> … I already know this.
   * </think>\n<answer>`), so they teach the choice to answer at once for the well-known names as
   * well as the facts. Default false: the loss on the answer only.
   */
  drillChoice?: boolean;
  /**
   * Choice drills per question about each world's own people (default 0): the plan
   * demonstration's opening up to its first information block (`<think> NAME: I need to find
   * NAME. </think>` and the first search, with the loss), so the choice to search is learnt for
   * the names the policy has never seen, against the recall opening of the well-known people.
   */
  searchDrills?: number;
  /** Styles of the demonstrations about each world's own people (default `BASE_POLICY_MIX`). */
  mix?: StyleMix;
  /**
   * Every demonstration's first `<think>` (and every drill) opens with the question's first
   * subject and a colon, `<think> Anna Berg: I already know this.` / `<think> Anna Berg: I need to
   * find Anna Berg.`, so the choice comes after the name (`thinkOpening`). Default false.
   */
  restateName?: boolean;
  /** ORT intra-op threads of the SFT run (default: ORT's choice, all cores). */
  threads?: number;
  quiet?: boolean;
}

const MIX_STYLES = ['plan', 'direct', 'vague', 'read'] as const;

/**
 * A style mix from its command-line spelling, `plan:0.5,direct:0.15,vague:0.15,read:0.2` (styles
 * left out get 0; the shares need not sum to 1). Throws `InvalidInputError` (flag `--mix`).
 */
export function parseStyleMix(spec: string): StyleMix {
  const mix: StyleMix = { plan: 0, direct: 0, vague: 0, read: 0 };
  for (const part of spec.split(',')) {
    const [style, share, ...rest] = part.trim().split(':');
    const value = share === undefined || share.trim() === '' ? Number.NaN : Number(share);
    if (!MIX_STYLES.includes(style as (typeof MIX_STYLES)[number]) || rest.length > 0) {
      throw new InvalidInputError({
        flag: '--mix',
        reason: `expected STYLE:SHARE pairs with STYLE one of ${MIX_STYLES.join(', ')}, got '${part}'`,
      });
    }
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidInputError({ flag: '--mix', reason: `expected a share ≥ 0 in '${part}'` });
    }
    mix[style as (typeof MIX_STYLES)[number]] = value;
  }
  if (MIX_STYLES.every((style) => mix[style] === 0)) {
    throw new InvalidInputError({ flag: '--mix', reason: `every share is 0 in '${spec}'` });
  }
  return mix;
}

function checkKnownOptions(options: MakeBaseOptions): {
  recallShare: number;
  knownDrills: number;
  searchDrills: number;
} {
  const recallShare =
    options.recallShare ?? KNOWN_FACT_MIX.recall / (KNOWN_FACT_MIX.recall + KNOWN_FACT_MIX.plan);
  if (!(recallShare >= 0 && recallShare <= 1)) {
    throw new InvalidInputError({
      field: 'recallShare',
      reason: `expected a number in [0, 1], got ${recallShare}`,
    });
  }
  const knownDrills = options.knownDrills ?? 0;
  if (!Number.isInteger(knownDrills) || knownDrills < 0) {
    throw new InvalidInputError({
      field: 'knownDrills',
      reason: `expected an integer ≥ 0, got ${knownDrills}`,
    });
  }
  const searchDrills = options.searchDrills ?? 0;
  if (!Number.isInteger(searchDrills) || searchDrills < 0) {
    throw new InvalidInputError({
      field: 'searchDrills',
      reason: `expected an integer ≥ 0, got ${searchDrills}`,
    });
  }
  return { recallShare, knownDrills, searchDrills };
}

/** The words of a recall up to the answer (`demonstrate`'s 'recall' style). */
export const RECALL_OPENING = '<think> I already know this. </think>\n<answer>';

/** The words of `question`'s recall up to the answer; with `restateName`, `<think> NAME: I already know this. …`. */
export function recallOpening(question: ToyQuestion, opening: OpeningOptions = {}): string {
  return `${thinkOpening(question, opening)} I already know this. </think>\n<answer>`;
}

/**
 * A memorisation drill: the recall demonstration of `question` with the loss on the answer only
 * (prompt and opening words carry none; with `choice`, the opening carries it too). The split falls where the tokenizer's pre-tokenizer
 * splits anyway (after `<answer>`), so the tokens equal those of the whole recall.
 */
export function recallDrill(
  question: ToyQuestion,
  tokenizer: Tokenizer,
  prompt: PromptOptions,
  opening: OpeningOptions = {},
  choice = false,
): Segment[] {
  return [
    { text: buildPrompt(question.question, tokenizer, prompt), loss: false },
    { text: recallOpening(question, opening), loss: choice },
    { text: ` ${question.golden_answers[0]!} </answer>`, loss: true },
  ];
}

/**
 * A choice drill: `question`'s plan demonstration cut after its first information block — the
 * opening `<think> … I need to find NAME. </think>` and the first search with the loss, the prompt
 * and the information block without (so no EOS follows: the drill teaches the choice and the
 * query, not where to stop). Its segments are the plan's first four, token for token.
 */
export async function searchDrill(
  world: ToyWorld,
  question: ToyQuestion,
  retriever: Retriever,
  tokenizer: Tokenizer,
  prompt: PromptOptions,
  opening: OpeningOptions = {},
): Promise<Segment[]> {
  // The plan draws nothing from the generator before its first search.
  const plan = await demonstrate(
    world,
    question,
    'plan',
    retriever,
    tokenizer,
    createRng(0),
    prompt,
    3,
    opening,
  );
  return plan.slice(0, 4);
}

/**
 * The work folder of a make-base recipe under `root`: `make-base-seed{seed}-{hash}`, the hash over
 * every option that changes the data or the training (not `out`, `quiet` or `threads`). A killed
 * run resumes when the same recipe runs again; a different recipe with the same seed starts its own
 * SFT run instead of resuming the other's checkpoints.
 */
export function makeBaseWorkDir(root: string, options: Omit<MakeBaseOptions, 'workDir'>): string {
  const recipe = {
    seed: options.seed,
    worlds: options.worlds,
    questionsPerType: options.questionsPerType,
    steps: options.steps,
    modelConfig: resolve(options.modelConfig),
    tokenizer: resolve(options.tokenizer),
    from: options.from === undefined ? null : resolve(options.from),
    lr: options.lr ?? null,
    famous: options.famous ?? 0,
    recallShare: options.recallShare ?? null,
    knownDrills: options.knownDrills ?? 0,
    searchDrills: options.searchDrills ?? 0,
    mix: options.mix === undefined ? null : MIX_STYLES.map((style) => options.mix![style]),
    restateName: options.restateName === true,
    drillChoice: options.drillChoice === true,
  };
  const hash = createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 12);
  return join(root, `make-base-seed${options.seed}-${hash}`);
}

export async function makeBasePolicy(
  options: MakeBaseOptions,
): Promise<{ lastLoss: number; tokensPerSecond: number }> {
  const { recallShare, knownDrills, searchDrills } = checkKnownOptions(options);
  const mix = options.mix ?? BASE_POLICY_MIX;
  const opening: OpeningOptions = { restateName: options.restateName === true };
  await mkdir(options.workDir, { recursive: true });
  const tokenizer = await loadTokenizer(options.tokenizer);
  const prompt = promptOptions({ template: TOY_TEMPLATE, chatTemplate: false });
  const rng = createRng(options.seed);
  const famous = (options.famous ?? 0) > 0 ? famousPeople(options.famous) : [];
  const demos: Awaited<ReturnType<typeof demonstrations>> = [];
  const drills: Segment[][] = [];
  for (let k = 0; k < options.worlds; k++) {
    const world = await materializeWorld(join(options.workDir, `pretrain-world-${k}`), {
      seed: options.seed * 100 + k,
      people: 40,
      questionsPerType: options.questionsPerType,
      famous,
    });
    const retriever = await InProcessRetriever.open(world.index);
    demos.push(
      ...(await demonstrations(
        world.world,
        world.questionList,
        mix,
        retriever,
        tokenizer,
        rng,
        prompt,
        opening,
      )),
    );
    // The well-known people's facts: recalled or looked up, then the memorisation drills.
    for (const question of knownQuestions(famous)) {
      const style: DemonstrationStyle = rng.next() < recallShare ? 'recall' : 'plan';
      demos.push({
        segments: await demonstrate(
          world.world,
          question,
          style,
          retriever,
          tokenizer,
          rng,
          prompt,
          3,
          opening,
        ),
        style,
        questionId: question.id,
      });
    }
    for (let drill = 0; drill < searchDrills; drill++) {
      for (const question of world.questionList) {
        if (question.known === true) continue;
        drills.push(await searchDrill(world.world, question, retriever, tokenizer, prompt, opening));
      }
    }
    for (let drill = 0; drill < knownDrills; drill++) {
      for (const question of knownQuestions(famous)) {
        drills.push(recallDrill(question, tokenizer, prompt, opening, options.drillChoice === true));
      }
    }
  }
  const data = join(options.workDir, 'sft.jsonl');
  const records = [...demos.map((demo) => demo.segments), ...drills];
  await writeFile(data, records.map((segments) => `${JSON.stringify({ segments })}\n`).join(''));
  const config = parseSftConfig({
    model:
      options.from !== undefined
        ? { path: options.from }
        : { init: { config: options.modelConfig, tokenizer: options.tokenizer, seed: options.seed } },
    data: { train: data, maxLength: 512 },
    training: {
      steps: options.steps,
      batchSize: 16,
      microBatchSize: 8,
      lr: options.lr ?? 2e-3,
      schedule: 'cosine',
      warmupRatio: 0.03,
      seed: options.seed,
    },
    output: { dir: join(options.workDir, 'sft-run'), saveEvery: Math.max(1, Math.floor(options.steps / 4)) },
    ...(options.threads !== undefined && options.threads > 0 ? { engine: { threads: options.threads } } : {}),
  });
  const result = await runSft(config, { resume: true, quiet: options.quiet ?? false });
  await rm(options.out, { recursive: true, force: true });
  await cp(result.finalDir, options.out, { recursive: true });
  await writeFile(
    join(options.out, 'README.md'),
    [
      '# The toy world base policy',
      '',
      `A ${'Qwen2'}-architecture decoder trained with \`sr1-train make-base\` (SFT) on ${records.length} demonstrations`,
      `over ${options.worlds} pretraining worlds (seeds ${options.seed * 100}…${options.seed * 100 + options.worlds - 1}); styles: ${JSON.stringify(mix)}.`,
      ...(famous.length > 0
        ? [
            `Every world also holds the ${famous.length} well-known people of \`famousPeople(${famous.length})\`, whose ${2 * famous.length} facts are asked in every world (recalled at once with probability ${recallShare}, else looked up)${knownDrills > 0 ? `, plus ${knownDrills} memorisation drills per fact and world (the recall with the loss on ${options.drillChoice === true ? 'its opening and answer' : 'the answer only'})` : ''}${searchDrills > 0 ? `, and ${searchDrills} choice drill${searchDrills === 1 ? '' : 's'} per question about each world's own people (the plan's opening up to its first information block)` : ''}; ${drills.length} drills in all.`,
          ]
        : []),
      ...(opening.restateName === true
        ? [
            "Every demonstration's first `<think>` opens with the question's first subject and a colon (`--restate-name`).",
          ]
        : []),
      `Final SFT loss ${result.lastLoss.toFixed(4)} after ${options.steps} steps.`,
      '',
      `This stage: \`node apps/trainer/dist/cli.js make-base --out ${options.out} --seed ${options.seed} --steps ${options.steps} --worlds ${options.worlds}` +
        `${options.from !== undefined ? ` --from ${options.from} --lr ${options.lr ?? 2e-3}` : ''}` +
        `${famous.length > 0 ? ` --famous ${famous.length}` : ''}` +
        `${famous.length > 0 && options.recallShare !== undefined ? ` --recall-share ${recallShare}` : ''}` +
        `${famous.length > 0 && knownDrills > 0 ? ` --known-drills ${knownDrills}` : ''}` +
        `${famous.length > 0 && knownDrills > 0 && options.drillChoice === true ? ' --drill-choice' : ''}` +
        `${searchDrills > 0 ? ` --search-drills ${searchDrills}` : ''}` +
        `${options.mix !== undefined ? ` --mix ${MIX_STYLES.map((style) => `${style}:${mix[style]}`).join(',')}` : ''}` +
        `${opening.restateName === true ? ' --restate-name' : ''}\`` +
        ' (the recipe of the committed base policy is in apps/trainer/assets/base-policy/README.md).',
      '',
    ].join('\n'),
  );
  return { lastLoss: result.lastLoss, tokensPerSecond: result.tokensPerSecond };
}
