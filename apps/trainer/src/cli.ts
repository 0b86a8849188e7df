#!/usr/bin/env node
// sr1-train: `sft`, `rl`, `make-base` and `demo` on `@sr1/core`'s command layer: typed flags,
// `--help`/`-h` on every command, and every error as one typed line (exit 2 for bad input).

import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CliIo,
  type CliProgram,
  CliUsageError,
  type CommandSpec,
  type FlagSpecs,
  InvalidInputError,
  isMainModule,
  parseCommand,
  runCli,
  runProcess,
} from '@sr1/core';
import { parseSearchCost, type SearchCost } from '@sr1/reward';
import { COST_STUDY_RUNS, runCostStudy } from './cost-study.js';
import { runDemo } from './demo.js';
import { makeBasePolicy, makeBaseWorkDir, parseStyleMix } from './make-base.js';
import { withDashboard, writeReport } from './report.js';
import {
  DEFAULT_ROLLOUT_ENGINE,
  loadRlConfig,
  ROLLOUT_ENGINE_NAMES,
  type RolloutEngineName,
} from './rl-config.js';
import { runRl } from './rl-run.js';
import { loadSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';

const asset = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const modelAsset = (path: string) =>
  fileURLToPath(new URL(`../../../packages/model/${path}`, import.meta.url));

/** The committed base policy the demo starts from; `make-base` writes there only when told to. */
export const COMMITTED_BASE_POLICY = asset('assets/base-policy');
/** The base policy of the search-cost experiment (`demo --known-facts`): made with `make-base --famous 24`. */
export const COMMITTED_KNOWN_FACTS_POLICY = asset('assets/base-policy-known');
/**
 * The base policy of `demo --cost-study`: base-policy-known continued in two stages (its README has
 * both `make-base` commands) into a base that knows the 48 known facts, still searches for most of
 * them, and searches for every name it has never seen.
 */
export const COMMITTED_COST_STUDY_POLICY = asset('assets/base-policy-oversearch');

const runFlags = {
  config: {
    type: 'string',
    required: true,
    placeholder: 'FILE',
    description: 'the run config (JSON; paths in it are relative to the file)',
  },
  resume: {
    type: 'boolean',
    description: "continue the output folder's run from its newest checkpoint",
  },
  force: {
    type: 'boolean',
    description: 'start over in an output folder that holds a run (deletes its metrics and checkpoints)',
  },
  quiet: { type: 'boolean', description: 'no progress display' },
  dashboard: {
    type: 'integer',
    min: 0,
    max: 65535,
    placeholder: 'PORT',
    description: 'serve the live report on http://127.0.0.1:PORT while the run lasts (0: any free port)',
  },
} as const satisfies FlagSpecs;

const RUN_NOTES =
  'Without --resume or --force, an output folder that already holds a run (metrics.jsonl or checkpoints/) is refused.';

const sftSpec = {
  name: 'sr1-train sft',
  summary: 'supervised training (HF folder or random init)',
  flags: runFlags,
  notes: `${RUN_NOTES}\nConfig fields: apps/trainer/README.md; a runnable example: examples/sft.json.`,
} as const satisfies CommandSpec;

const rlSpec = {
  name: 'sr1-train rl',
  summary: 'Search-R1 RL (PPO or GRPO) with the engine and a local index',
  flags: runFlags,
  notes: `${RUN_NOTES}\nConfig fields: apps/trainer/README.md; a runnable example: examples/rl.json.`,
} as const satisfies CommandSpec;

const makeBaseSpec = {
  name: 'sr1-train make-base',
  summary: "the toy world's base policy (SFT on demonstrations)",
  flags: {
    out: {
      type: 'string',
      required: true,
      placeholder: 'DIR',
      description: 'folder for the trained base policy (the committed one: apps/trainer/assets/base-policy)',
    },
    force: { type: 'boolean', description: 'replace an existing, non-empty --out folder' },
    steps: { type: 'integer', default: 1000, min: 0, description: 'SFT steps' },
    seed: { type: 'integer', default: 11, min: 0, description: 'seed of the pretraining worlds and the run' },
    worlds: { type: 'integer', default: 60, min: 1, description: 'pretraining worlds' },
    from: { type: 'string', placeholder: 'DIR', description: 'continue from this model folder' },
    lr: { type: 'number', placeholder: 'LR', description: 'peak learning rate (> 0; default 2e-3)' },
    famous: {
      type: 'integer',
      default: 0,
      min: 0,
      description: 'well-known people in every pretraining world, whose facts the policy memorises (0: none)',
    },
    'recall-share': {
      type: 'number',
      min: 0,
      max: 1,
      placeholder: 'P',
      description:
        "share of the well-known people's facts answered from memory, the rest looked up (default 0.5)",
    },
    'known-drills': {
      type: 'integer',
      default: 0,
      min: 0,
      description:
        'memorisation drills per well-known fact and pretraining world (the recall, loss on the answer only)',
    },
    'search-drills': {
      type: 'integer',
      default: 0,
      min: 0,
      description:
        "choice drills per question about each pretraining world's own people (the plan's opening and first search, with the loss)",
    },
    'drill-choice': {
      type: 'boolean',
      description:
        'the memorisation drills also carry the loss on their opening (the choice to answer at once), not only on the answer',
    },
    'restate-name': {
      type: 'boolean',
      description:
        "open every demonstration's first <think> with the question's subject (<think> NAME: I already know this. / I need to find NAME.), so the choice follows the name",
    },
    mix: {
      type: 'string',
      placeholder: 'SPEC',
      description:
        "styles of the demonstrations about the worlds' own people, e.g. plan:0.3,direct:0.35,vague:0.15,read:0.2 (the default)",
    },
    threads: {
      type: 'integer',
      min: 0,
      description: "ORT threads of the SFT run (default ORT's choice, all cores)",
    },
    quiet: { type: 'boolean', description: 'no progress display' },
  },
  notes:
    'Work files (worlds, demonstrations, the SFT run) go to runs/make-base-seedN-HASH under the current folder, HASH naming the recipe: the same command resumes a killed run, another recipe starts its own.',
} as const satisfies CommandSpec;

const demoSpec = {
  name: 'sr1-train demo',
  summary: 'the toy-world demo: baselines, RL, held-out table, report',
  flags: {
    steps: { type: 'integer', default: 100, min: 1, description: 'RL steps' },
    out: { type: 'string', default: 'runs/demo', placeholder: 'DIR', description: 'output folder' },
    algorithm: { type: 'choice', choices: ['grpo', 'ppo'], default: 'grpo', description: 'RL algorithm' },
    unmasked: { type: 'boolean', description: 'keep retrieved tokens in the loss (the ablation)' },
    'no-std': {
      type: 'boolean',
      description:
        "GRPO's advantage without the division by the group's std (Dr. GRPO's): a reward gap keeps its size",
    },
    seed: { type: 'integer', default: 1, min: 0, description: 'seed of the RL run' },
    base: {
      type: 'string',
      placeholder: 'DIR',
      description:
        'base policy folder (default: the committed apps/trainer/assets/base-policy; with --known-facts, assets/base-policy-known)',
    },
    'known-facts': {
      type: 'boolean',
      description:
        "the search-cost experiment's worlds: single-hop facts the base policy knows and unseen ones",
    },
    'search-cost': {
      type: 'string',
      placeholder: 'SPEC',
      description:
        "a per-search cost in the RL reward: 'additive:C' (EM − C·searches), 'otc:C[:ALPHA]' or 'none'",
    },
    'cost-study': {
      type: 'boolean',
      description:
        'the search-cost result: the known-fact demo twice, without a cost and with --search-cost (default otc:1), compared with the goal (base default: assets/base-policy-oversearch)',
    },
    threads: {
      type: 'integer',
      min: 0,
      description:
        "ORT threads per session (1: repeatable, bit for bit with --rollout lockstep; default ORT's choice)",
    },
    rollout: {
      type: 'choice',
      choices: ROLLOUT_ENGINE_NAMES,
      default: DEFAULT_ROLLOUT_ENGINE,
      description:
        "where rollouts and evaluations generate: 'async-worker' (an engine worker, KV kept across turns) or 'lockstep' (in-thread)",
    },
    quiet: { type: 'boolean', description: 'no progress display' },
    dashboard: runFlags.dashboard,
  },
  notes:
    'An existing --out folder is resumed: the RL run continues from its newest checkpoint.\n' +
    'With --cost-study the two runs go to OUT/no-cost and OUT/with-cost, the comparison to OUT/cost-study.json;\n' +
    "issue #17's result: demo --cost-study --steps 200 --threads 1 (docs/results.md).",
} as const satisfies CommandSpec;

const reportSpec = {
  name: 'sr1-train report',
  summary: 'one HTML report over run folders, overlaid (curves, held-out table, trajectories)',
  flags: {
    out: {
      type: 'string',
      placeholder: 'FILE',
      description: 'the HTML file (default: RUN_DIR/report.html for one run, ./report.html for several)',
    },
    title: { type: 'string', placeholder: 'TEXT', description: "the page title (default: the runs' names)" },
    force: { type: 'boolean', description: 'replace an existing report file' },
  },
  positionals: { name: 'RUN_DIR...', min: 1 },
  notes:
    'A run folder is an `sft`/`rl` output folder (metrics.jsonl, config.resolved.json) or a demo folder\n' +
    '(rl-run/, results.json, trajectories.jsonl). The page is self-contained: open it from disk.',
} as const satisfies CommandSpec;

/** The live dashboard's announcement goes where the run's own summary goes. */
const announce = (io: CliIo) => (line: string) => io.stdout(`${line}\n`);

function resumeOrForce(values: { resume: boolean; force: boolean }): void {
  if (values.resume && values.force) {
    throw new CliUsageError('--force', 'give at most one of --resume and --force');
  }
}

/** An existing, non-empty folder is replaced only with --force (the committed base policy too). */
function checkMakeBaseOut(out: string, force: boolean): void {
  if (force || !existsSync(out)) return;
  if (readdirSync(out).length === 0) return;
  throw new InvalidInputError({
    code: 'output_exists',
    file: out,
    flag: '--out',
    reason: `exists and is not empty${resolve(out) === resolve(COMMITTED_BASE_POLICY) ? ' (the committed base policy)' : ''}; pass --force to replace it, or choose another folder`,
  });
}

/** The `sr1-train` program: its subcommands, as `@sr1/core`'s `runCli` dispatches them. */
export const program: CliProgram = {
  name: 'sr1-train',
  summary: 'SFT and Search-R1 RL training on the ONNX engine, and the toy-world demo',
  commands: {
    sft: {
      summary: sftSpec.summary,
      async run(args, io) {
        const { values } = parseCommand(sftSpec, args);
        resumeOrForce(values);
        const config = await loadSftConfig(values.config);
        const result = await withDashboard(
          values.dashboard,
          { runDirs: [config.output.dir], title: `sr1-train sft: ${config.output.dir}` },
          announce(io),
          () => runSft(config, values),
        );
        io.stdout(
          `sft done: ${result.steps} steps, last loss ${result.lastLoss.toFixed(4)}, ` +
            `${result.tokensPerSecond.toFixed(0)} tokens/s; model in ${result.finalDir}\n`,
        );
      },
    },
    rl: {
      summary: rlSpec.summary,
      async run(args, io) {
        const { values } = parseCommand(rlSpec, args);
        resumeOrForce(values);
        const config = await loadRlConfig(values.config);
        const result = await withDashboard(
          values.dashboard,
          { runDirs: [config.output.dir], title: `sr1-train rl: ${config.output.dir}` },
          announce(io),
          () => runRl(config, values),
        );
        const last = result.validations.at(-1);
        io.stdout(
          `rl done: ${result.steps} steps; validation EM ${last?.summary.exactMatch.toFixed(3) ?? 'n/a'}; metrics in ${result.metricsFile}\n`,
        );
      },
    },
    'make-base': {
      summary: makeBaseSpec.summary,
      async run(args, io) {
        const { values } = parseCommand(makeBaseSpec, args);
        if (values.lr !== undefined && !(values.lr > 0)) {
          throw new CliUsageError('--lr', `must be > 0, got ${values.lr}`);
        }
        const mix = values.mix !== undefined ? parseStyleMix(values.mix) : undefined;
        checkMakeBaseOut(values.out, values.force);
        const recipe = {
          out: values.out,
          modelConfig: asset('assets/base-model-config.json'),
          tokenizer: modelAsset('assets/tokenizer-small'),
          seed: values.seed,
          worlds: values.worlds,
          questionsPerType: 20,
          steps: values.steps,
          ...(values.from !== undefined ? { from: values.from } : {}),
          ...(values.lr !== undefined ? { lr: values.lr } : {}),
          ...(values.famous > 0 ? { famous: values.famous } : {}),
          ...(values['recall-share'] !== undefined ? { recallShare: values['recall-share'] } : {}),
          knownDrills: values['known-drills'],
          searchDrills: values['search-drills'],
          ...(values['drill-choice'] === true ? { drillChoice: true } : {}),
          ...(mix !== undefined ? { mix } : {}),
          ...(values['restate-name'] === true ? { restateName: true } : {}),
          ...(values.threads !== undefined && values.threads > 0 ? { threads: values.threads } : {}),
          quiet: values.quiet,
        };
        const result = await makeBasePolicy({ ...recipe, workDir: makeBaseWorkDir('runs', recipe) });
        io.stdout(
          `base policy: SFT loss ${result.lastLoss.toFixed(4)}, ${result.tokensPerSecond.toFixed(0)} tokens/s → ${resolve(values.out)}\n`,
        );
      },
    },
    demo: {
      summary: demoSpec.summary,
      async run(args, io) {
        const { values } = parseCommand(demoSpec, args);
        let searchCost: SearchCost | undefined;
        if (values['search-cost'] !== undefined) {
          try {
            searchCost = parseSearchCost(values['search-cost']);
          } catch (error) {
            throw new CliUsageError('--search-cost', (error as Error).message);
          }
        }
        if (values['no-std'] === true && values.algorithm !== 'grpo') {
          throw new CliUsageError('--no-std', "applies to GRPO only (PPO's advantages are GAE's)");
        }
        const shared = {
          steps: values.steps,
          algorithm: values.algorithm as 'grpo' | 'ppo',
          ...(values['no-std'] === true ? { grpoNormalizeByStd: false } : {}),
          maskRetrievedTokens: !values.unmasked,
          seed: values.seed,
          ...(values.threads !== undefined && values.threads > 0 ? { threads: values.threads } : {}),
          rollout: values.rollout as RolloutEngineName,
          quiet: values.quiet,
        };
        if (values['cost-study'] === true) {
          const cost = searchCost ?? { kind: 'otc', c: 1 };
          if (cost.kind === 'none') {
            throw new CliUsageError(
              '--search-cost',
              "the cost study compares a cost with none: give 'additive:C' or 'otc:C'",
            );
          }
          const runDirs = [
            join(values.out, COST_STUDY_RUNS.noCost),
            join(values.out, COST_STUDY_RUNS.withCost),
          ];
          await withDashboard(
            values.dashboard,
            { runDirs, title: `sr1-train cost study: ${values.out}` },
            announce(io),
            () =>
              runCostStudy({
                ...shared,
                out: values.out,
                basePolicy: values.base ?? COMMITTED_COST_STUDY_POLICY,
                searchCost: cost,
              }),
          );
          return;
        }
        const knownFacts = values['known-facts'] === true;
        const demo = { runDirs: [values.out], title: `sr1-train demo: ${values.out}` };
        await withDashboard(values.dashboard, demo, announce(io), () =>
          runDemo({
            ...shared,
            out: values.out,
            basePolicy: values.base ?? (knownFacts ? COMMITTED_KNOWN_FACTS_POLICY : COMMITTED_BASE_POLICY),
            knownFacts,
            ...(searchCost !== undefined ? { searchCost } : {}),
          }),
        );
      },
    },
    report: {
      summary: reportSpec.summary,
      async run(args, io) {
        const { values, positionals } = parseCommand(reportSpec, args);
        const out =
          values.out ?? (positionals.length === 1 ? join(positionals[0]!, 'report.html') : 'report.html');
        if (!values.force && existsSync(out)) {
          throw new InvalidInputError({
            code: 'output_exists',
            file: out,
            flag: '--out',
            reason: 'exists; pass --force to replace it, or choose another file with --out',
          });
        }
        const file = await writeReport({
          runDirs: positionals,
          out,
          ...(values.title !== undefined ? { title: values.title } : {}),
        });
        io.stdout(`report: ${file} (${positionals.length} run${positionals.length === 1 ? '' : 's'})\n`);
      },
    },
  },
  notes: 'Every command answers --help. Examples to run as written: examples/README.md.',
};

/** Runs `sr1-train` with `argv` (without node and the script), writing to `io`; returns the exit code. */
export function runTrainCli(argv: readonly string[], io?: CliIo): Promise<number> {
  return runCli(program, argv, io);
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  await runProcess(program, argv);
}

if (isMainModule(import.meta.url)) void main();
