// The README's main job: on a fresh clone, with 2 CPU cores and no network — build the RL and the
// held-out worlds and their indexes, load the base policy, measure direct / RAG / base agent on
// the held-out world, run GRPO on the RL world, measure the trained agent, print the table, and
// write the HTML report.

import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import {
  type EvalMethod,
  type EvalQuestion,
  type EvalRecord,
  type EvalSummary,
  evaluateMethod,
  summarizeByType,
} from '@sr1/eval';
import { loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import type { SearchCost } from '@sr1/reward';
import { famousPeople, knownQuestions, type ToyQuestion } from '@sr1/toy-world';
import { loadLatestCheckpoint, TrainInvariantError } from '@sr1/train';
import { folderEngine } from './engine-generator.js';
import { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
import { RUN_FILES, writeReport, writeTrajectories } from './report.js';
import { DEFAULT_ROLLOUT_ENGINE, parseRlConfig, type RolloutEngineName } from './rl-config.js';
import { runRl } from './rl-run.js';
import { materializeWorld } from './toy-setup.js';

export interface DemoOptions {
  out: string;
  basePolicy: string;
  steps: number;
  /** 'grpo' (default): 8 prompts × 4 rollouts per step; 'ppo': 32 prompts × 1 rollout with a critic. */
  algorithm?: 'grpo' | 'ppo';
  /** GRPO only: divide the group's centred rewards by its std (default true); false is Dr. GRPO's advantage. */
  grpoNormalizeByStd?: boolean;
  /** Mask retrieved tokens out of the loss (default true, the paper's method). */
  maskRetrievedTokens?: boolean;
  /** Seed of the RL run (default 1). */
  seed?: number;
  /**
   * ORT intra-op threads for every session (default: ORT's choice, all cores). With more than 1,
   * ORT's parallel kernels round differently from process to process, and sampled trajectories
   * drift apart after a few steps. With 1 and the 'lockstep' engine a run is bit-for-bit
   * repeatable. With 1 and the 'async-worker' engine it is repeatable for many steps but not
   * always to the end: which trajectories share a decode forward depends on when each search
   * returns, so logits can differ in their last bits and, rarely, a sampled token with them.
   */
  threads?: number;
  /**
   * Where rollouts and evaluations generate (default `DEFAULT_ROLLOUT_ENGINE`, 'async-worker': an
   * engine worker with the async agent loop; 'lockstep': in-thread).
   */
  rollout?: RolloutEngineName;
  /**
   * The search-cost experiment's worlds: both worlds also hold the well-known people of
   * `famousPeople(24)`, and the questions are single-hop facts of two kinds, 'known' (about those
   * people, memorised by a base policy made with `make-base --famous 24`) and 'unseen' (about the
   * world's own people). Default false: the demo's worlds and question types.
   */
  knownFacts?: boolean;
  /** A per-search cost in the RL reward (default none). */
  searchCost?: SearchCost;
  /**
   * The base policy's held-out records (direct, RAG, agent) of an earlier run with the same base,
   * worlds, threads and rollout engine (`DemoResult.baseRecords`): reused instead of evaluating the
   * base again. The cost study passes its first run's to its second.
   */
  baseRecords?: BaseRecords;
  quiet?: boolean;
}

/** The base policy's held-out records per method, before RL. */
export type BaseRecords = ReadonlyMap<EvalMethod, EvalRecord[]>;

const BASE_METHODS: readonly EvalMethod[] = ['direct', 'rag', 'agent'];

/** Well-known people in the search-cost experiment's worlds (as in `make-base --famous 24`). */
export const KNOWN_FACT_PEOPLE = 24;

/** The questions of each world, as JSONL lines with a type, and the held-out list. */
interface DemoQuestions {
  train: string[];
  validation: string[];
  heldOut: EvalQuestion[];
  types: readonly string[];
}

const asLine = (q: ToyQuestion, type: string = q.type) =>
  JSON.stringify({ id: q.id, question: q.question, golden_answers: q.golden_answers, type });

/** World seeds: the base policy was trained on world 101; RL and evaluation worlds are unseen. */
export const DEMO_WORLDS = { rl: 202, evaluation: 303 } as const;

const ROLLOUT = { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3 }; // toy answers are short

async function evaluateAll(
  policyDir: string,
  methods: readonly EvalMethod[],
  questions: readonly EvalQuestion[],
  index: string,
  threads: number | undefined,
  rollout: RolloutEngineName,
): Promise<Map<EvalMethod, EvalRecord[]>> {
  const tokenizer = await loadTokenizer(policyDir);
  const engineThreads = threads !== undefined ? { threads } : {};
  const engine = await folderEngine(
    rollout,
    policyDir,
    tokenizer,
    async () => {
      const model = await loadModelFolder(policyDir);
      return OrtDecoderRunner.create(model.config, model.weights, engineThreads);
    },
    engineThreads,
  );
  const retriever = await InProcessRetriever.open(index);
  const { template: agentTemplate, ...prompt } = promptOptions({
    template: TOY_TEMPLATE,
    chatTemplate: false,
  });
  const results = new Map<EvalMethod, EvalRecord[]>();
  for (const method of methods) {
    results.set(
      method,
      // The toy policy knows only the agent's format: the baselines keep its prompt (direct: search
      // off; RAG: the passages as an information block), and the viewer needs whole trajectories.
      await evaluateMethod(method, 'held-out', questions, {
        ...engine.evalParts,
        retriever,
        tokenizer,
        rollout: ROLLOUT,
        prompt,
        agentTemplate,
        baselinePrompts: 'agent',
        keepTrajectories: true,
      }),
    );
  }
  await engine.dispose();
  await retriever.close();
  return results;
}

function formatTable(rows: { label: string; summary: EvalSummary }[], types: readonly string[]): string {
  const header = `| method | ${types.map((t) => `${t} EM`).join(' | ')} | all EM | searches/q |`;
  const rule = `|---|${types.map(() => '---').join('|')}|---|---|`;
  const lines = rows.map(
    ({ label, summary }) =>
      `| ${label} | ${types.map((t) => summary.byType[t]?.exactMatch.toFixed(3) ?? '—').join(' | ')} | ${summary.exactMatch.toFixed(3)} | ${summary.searchesPerQuestion.toFixed(2)} |`,
  );
  return [header, rule, ...lines].join('\n');
}

/** Searches per question of each type (the search-cost experiment reports where the searches go). */
function formatSearchTable(
  rows: { label: string; summary: EvalSummary }[],
  types: readonly string[],
): string {
  const header = `| method | ${types.map((t) => `${t} searches/q`).join(' | ')} | all searches/q |`;
  const rule = `|---|${types.map(() => '---').join('|')}|---|`;
  const lines = rows.map(
    ({ label, summary }) =>
      `| ${label} | ${types.map((t) => summary.byType[t]?.searchesPerQuestion.toFixed(2) ?? '—').join(' | ')} | ${summary.searchesPerQuestion.toFixed(2)} |`,
  );
  return [header, rule, ...lines].join('\n');
}

/**
 * The search-cost experiment's questions: single-hop facts, 'known' (the well-known people's, the
 * same in both worlds and in pretraining) and 'unseen' (the world's own people). RL world: 100
 * unseen and 48 known; held-out world: 48 of each. Every tenth RL question validates.
 */
function knownFactQuestions(rl: readonly ToyQuestion[], evaluation: readonly ToyQuestion[]): DemoQuestions {
  const known = knownQuestions(famousPeople(KNOWN_FACT_PEOPLE));
  const singleHop = (list: readonly ToyQuestion[]) => list.filter((q) => q.type === 'single-hop');
  const rlLines = [...singleHop(rl).map((q) => asLine(q, 'unseen')), ...known.map((q) => asLine(q, 'known'))];
  const evalList = [
    ...singleHop(evaluation).map((q) => ({ ...q, type: 'unseen' })),
    ...known.map((q) => ({ ...q, type: 'known' })),
  ];
  return {
    train: rlLines.filter((_, i) => i % 10 !== 0),
    validation: rlLines.filter((_, i) => i % 10 === 0),
    heldOut: evalList.map((q) => ({
      id: q.id,
      question: q.question,
      golden_answers: q.golden_answers,
      type: q.type,
    })),
    types: ['known', 'unseen'],
  };
}

/** What a demo run measured on the held-out world. */
export interface DemoResult {
  /** The run's folder. */
  out: string;
  /** The question types of the table's columns. */
  types: readonly string[];
  /** Direct answer, RAG and the base agent (before RL), and the trained agent. */
  rows: { label: string; summary: EvalSummary }[];
  /** The trained agent's summary (the last row). */
  trained: EvalSummary;
  /** The base policy's held-out records, for `DemoOptions.baseRecords` of a run with the same base. */
  baseRecords: BaseRecords;
}

/** Reused base records must cover every base method and exactly the held-out questions, in order. */
export function checkBaseRecords(records: BaseRecords, heldOut: readonly EvalQuestion[]): BaseRecords {
  for (const method of BASE_METHODS) {
    const list = records.get(method);
    if (
      list === undefined ||
      list.length !== heldOut.length ||
      list.some((r, i) => r.id !== heldOut[i]!.id)
    ) {
      throw new InvalidInputError({
        field: 'baseRecords',
        reason: `the reused base records for '${method}' are not this run's ${heldOut.length} held-out questions`,
      });
    }
  }
  return records;
}

/** A search cost as the demo and the study print it: 'no cost', 'otc c 1', 'otc c 1 α 0.5'. */
export function searchCostLabel(cost: SearchCost): string {
  if (cost.kind === 'none') return 'no cost';
  return `${cost.kind} c ${cost.c}${cost.kind === 'otc' && cost.alpha !== undefined ? ` α ${cost.alpha}` : ''}`;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const out = resolve(options.out);
  if (!existsSync(join(options.basePolicy, 'model.safetensors'))) {
    throw new InvalidInputError({
      file: options.basePolicy,
      reason: 'the base policy is missing; build it with `node apps/trainer/dist/cli.js make-base`',
    });
  }
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`sr1 demo → ${out}`);
  const knownFacts = options.knownFacts === true;
  const famous = knownFacts ? famousPeople(KNOWN_FACT_PEOPLE) : [];
  const rlWorld = await materializeWorld(join(out, 'rl-world'), {
    seed: DEMO_WORLDS.rl,
    people: 200,
    questionsPerType: knownFacts ? 100 : 200,
    famous,
  });
  const evalWorld = await materializeWorld(join(out, 'eval-world'), {
    seed: DEMO_WORLDS.evaluation,
    people: 200,
    questionsPerType: knownFacts ? 48 : 30,
    famous,
  });
  // Validation during training uses the RL world's own questions (every tenth), never the held-out world.
  let questions: DemoQuestions;
  if (knownFacts) {
    questions = knownFactQuestions(rlWorld.questionList, evalWorld.questionList);
  } else {
    const lines = (await readFile(rlWorld.questions, 'utf8')).trim().split('\n');
    questions = {
      train: lines.filter((_, i) => i % 10 !== 0),
      validation: lines.filter((_, i) => i % 10 === 0),
      heldOut: evalWorld.questionList.map((q) => ({
        id: q.id,
        question: q.question,
        golden_answers: q.golden_answers,
        type: q.type,
      })),
      types: ['single-hop', 'two-hop', 'comparison'],
    };
  }
  const heldOut = questions.heldOut;
  const rlQuestionCount = questions.train.length + questions.validation.length;
  log(
    `worlds: RL world ${DEMO_WORLDS.rl} (${rlQuestionCount} questions), held-out world ${DEMO_WORLDS.evaluation} (${heldOut.length} questions)${knownFacts ? `, each with the ${famous.length} well-known people` : ''}; BM25 indexes built`,
  );
  const trainFile = join(rlWorld.dir, 'train.jsonl');
  const validationFile = join(rlWorld.dir, 'validation.jsonl');
  await writeFile(trainFile, `${questions.train.join('\n')}\n`);
  await writeFile(validationFile, `${questions.validation.join('\n')}\n`);

  let before: BaseRecords;
  if (options.baseRecords !== undefined) {
    log('the base policy on the held-out world (greedy): direct, RAG, agent as measured by the first run');
    before = checkBaseRecords(options.baseRecords, heldOut);
  } else {
    log('evaluating the base policy on the held-out world (greedy): direct, RAG, agent…');
    before = await evaluateAll(
      options.basePolicy,
      BASE_METHODS,
      heldOut,
      evalWorld.index,
      options.threads,
      options.rollout ?? DEFAULT_ROLLOUT_ENGINE,
    );
  }

  const runDir = join(out, 'rl-run');
  const algorithm = options.algorithm ?? 'grpo';
  const config = parseRlConfig({
    policy: options.basePolicy,
    index: rlWorld.index,
    data: { train: trainFile, validation: validationFile, validationLimit: 30 },
    preset: algorithm,
    steps: options.steps,
    // The same 32 rollouts per step for both: GRPO needs groups, PPO (the paper's) one rollout per prompt.
    promptsPerStep: algorithm === 'grpo' ? 8 : 32,
    rolloutsPerPrompt: algorithm === 'grpo' ? 4 : 1,
    microBatchSize: 8,
    actorLr: 2e-5, // a 1M-parameter model needs a larger step than the paper's 1e-6 for 3B–7B models
    criticLr: 2e-4, // the paper's critic/actor ratio of 10
    maskRetrievedTokens: options.maskRetrievedTokens ?? true,
    warmupRatio: 0.1,
    klCoef: 0.001,
    ...(options.grpoNormalizeByStd !== undefined ? { grpoNormalizeByStd: options.grpoNormalizeByStd } : {}),
    prompt: { template: TOY_TEMPLATE, chatTemplate: false },
    rollout: ROLLOUT,
    validateEvery: Math.max(1, Math.floor(options.steps / 4)),
    output: { dir: runDir, saveEvery: Math.max(1, Math.floor(options.steps / 4)) },
    seed: options.seed ?? 1,
    engine: {
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.rollout !== undefined ? { rollout: options.rollout } : {}),
    },
    ...(options.searchCost !== undefined ? { searchCost: options.searchCost } : {}),
  });
  const costLabel =
    config.searchCost.kind === 'none' ? '' : `, search cost ${searchCostLabel(config.searchCost)}`;
  const algorithmLabel =
    config.algorithm === 'grpo' && !config.grpoNormalizeByStd ? 'GRPO (no std)' : algorithm.toUpperCase();
  log(
    `${algorithmLabel} on the RL world${config.maskRetrievedTokens ? '' : ' (retrieved tokens NOT masked)'}${costLabel}: ${config.steps} steps × ${config.promptsPerStep} prompts × ${config.rolloutsPerPrompt} rollouts (seed ${config.seed})`,
  );
  const rl = await runRl(config, {
    resume: true,
    ...(options.quiet !== undefined ? { quiet: options.quiet } : {}),
  });
  if (rl.searchCache !== null) {
    const c = rl.searchCache;
    log(
      `query cache over the rollouts: ${c.hits} hits, ${c.misses} misses (hit rate ${c.hitRate.toFixed(3)}); searching took ${c.searchSeconds.toFixed(2)} s, the hits saved ≈ ${c.savedSecondsEstimate.toFixed(2)} s (estimated: hits × mean miss time)`,
    );
  }
  const checkpoint = await loadLatestCheckpoint(runDir);
  if (checkpoint === null) throw new TrainInvariantError(`the RL run left no checkpoint in ${runDir}`);
  log('evaluating the trained agent on the held-out world…');
  const after = await evaluateAll(
    checkpoint.dir,
    ['agent'],
    heldOut,
    evalWorld.index,
    options.threads,
    options.rollout ?? DEFAULT_ROLLOUT_ENGINE,
  );

  const rows = [
    { label: 'direct answer', summary: summarizeByType('direct', before.get('direct')!) },
    { label: 'RAG (one retrieval)', summary: summarizeByType('rag', before.get('rag')!) },
    { label: 'base agent', summary: summarizeByType('agent', before.get('agent')!) },
    {
      label: `trained agent (${algorithmLabel}${config.maskRetrievedTokens ? '' : ', unmasked'}${costLabel})`,
      summary: summarizeByType('agent', after.get('agent')!),
    },
  ];
  log('');
  log(`held-out world ${DEMO_WORLDS.evaluation}, ${heldOut.length} questions, greedy decoding:`);
  log(formatTable(rows, questions.types));
  if (knownFacts) {
    log('');
    log(formatSearchTable(rows, questions.types));
  }

  // The run folder holds what `sr1-train report` reads: results.json (the table) and
  // trajectories.jsonl (every held-out trajectory of the trained agent, searches with their hits).
  const tokenizer = await loadTokenizer(checkpoint.dir);
  const hitsRetriever = await InProcessRetriever.open(evalWorld.index);
  await writeTrajectories(join(out, RUN_FILES.trajectories), after.get('agent')!, heldOut, {
    decode: (ids) => tokenizer.decode(ids),
    lookupHits: async (query) => (await hitsRetriever.search([query], ROLLOUT.topk))[0] ?? [],
  });
  await hitsRetriever.close();
  await writeFile(join(out, RUN_FILES.results), `${JSON.stringify(rows, null, 2)}\n`);
  const reportFile = await writeReport({
    runDirs: [out],
    out: join(out, 'report.html'),
    title: 'sr1 demo: Search-R1 on a toy world',
    notes: [
      `Base policy: ${options.basePolicy}. RL: ${algorithmLabel}, retrieved tokens ${config.maskRetrievedTokens ? 'masked' : 'not masked'}${costLabel}, ${config.steps} steps, seed ${config.seed}, on world ${DEMO_WORLDS.rl}; evaluation on the unseen world ${DEMO_WORLDS.evaluation}${knownFacts ? ' (known and unseen facts)' : ''}.`,
    ],
  });
  log('');
  // Where the results are: the trained policy is an HF folder (config, weights, tokenizer) that
  // `sr1-model serve --model DIR` serves and `sr1-bench eval --model DIR` evaluates.
  log(`trained model: ${checkpoint.dir}`);
  log(`report: ${reportFile}`);
  return {
    out,
    types: questions.types,
    rows,
    trained: rows[rows.length - 1]!.summary,
    baseRecords: before,
  };
}
