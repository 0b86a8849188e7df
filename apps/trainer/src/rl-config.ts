// The `sr1-train rl` config: typed, validated, every default with its reason. The `preset` field
// starts from the paper's PPO or GRPO settings (reference §4); explicit fields override it.

import { dirname, resolve } from 'node:path';
import type { Precision } from '@sr1/model';
import { type SearchCost, validateSearchCost } from '@sr1/reward';
import { KL_ESTIMATOR_NAMES, type KlEstimator } from '@sr1/rl';
import type { ToolFormat, ToolName } from '@sr1/rollout';
import { ConfigReader, DEFAULT_MAX_NON_FINITE_STEPS, readConfigFile } from '@sr1/train';
import { enginePrecision } from './sft-config.js';

/** How the trainer generates: in an engine worker with the async loop, or in-thread lock-step. */
export type RolloutEngineName = 'async-worker' | 'lockstep';

export const ROLLOUT_ENGINE_NAMES = [
  'async-worker',
  'lockstep',
] as const satisfies readonly RolloutEngineName[];

/**
 * The engine worker: every ORT session off the main thread, KV kept across turns. Over six seeds of
 * the demo (--threads 1) it learned as well as lock-step within the seeds' spread, with 8–14 %
 * faster rollouts and less memory (apps/trainer/README.md); 'lockstep' reproduces the results
 * measured before it became the default.
 */
export const DEFAULT_ROLLOUT_ENGINE: RolloutEngineName = 'async-worker';

export interface RlConfig {
  policy: string;
  index: string;
  data: { train: string; validation: string; validationLimit: number };
  algorithm: 'ppo' | 'grpo';
  steps: number;
  promptsPerStep: number;
  rolloutsPerPrompt: number;
  miniBatchSize: number;
  microBatchSize: number;
  ppoEpochs: number;
  actorLr: number;
  criticLr: number;
  warmupRatio: number;
  clipRatio: number;
  entropyCoef: number;
  klCoef: number;
  /** 'reward': per-token penalty in the reward (the paper's PPO); 'loss': a term in the actor loss (its GRPO). */
  klMode: 'reward' | 'loss';
  klEstimator: KlEstimator;
  /**
   * GRPO's advantage divides each group's centred rewards by the group's std (true, the paper's);
   * false keeps the mean baseline only (Dr. GRPO's advantage), so a reward gap keeps its size: a
   * small search cost stays a small signal instead of a unit one. GRPO only.
   */
  grpoNormalizeByStd: boolean;
  maskRetrievedTokens: boolean;
  reward: 'em' | 'format';
  /**
   * A cost per search in the reward (applied after `reward`): 'none', 'additive' (r − c·searches)
   * or 'otc' (α · r_tool(searches, n*) · r, n* the fewest searches of a correct answer so far).
   */
  searchCost: SearchCost;
  /** Entries of the retriever's LRU query cache (0: no cache); GRPO's n rollouts of a prompt repeat searches. */
  searchCache: number;
  /** Prompt: the reference instruction ('search-r1') or a text template with `{question}`. */
  prompt: { template: string; chatTemplate: 'auto' | boolean };
  rollout: {
    maxTurns: number;
    maxTokensPerTurn: number;
    maxObsTokens: number;
    topk: number;
    temperature: number;
    /** 'tags': the paper's `<search>` protocol; 'hermes': native `<tool_call>` JSON through the chat template. */
    toolFormat: ToolFormat;
    /** The tools offered: ['search'], or with 'hermes' ['search', 'open'] (a passage's whole document). */
    tools: ToolName[];
    /** Searches per trajectory; later ones are answered "search unavailable" (null: no budget). */
    maxSearches: number | null;
  };
  validateEvery: number;
  output: { dir: string; saveEvery: number };
  /** Non-finite actor updates in a row (skipped) after which the run stops with NonFiniteStepsError. */
  maxNonFiniteSteps: number;
  engine: {
    device: 'cpu' | 'cuda';
    /** ORT intra-op threads of the trainer's sessions on the main thread (0: ORT's choice). */
    threads: number;
    /**
     * 'async-worker': rollouts and validation in an engine worker (continuous batching, KV kept
     * across a trajectory's turns, the async agent loop); 'lockstep': `generate` on the main thread
     * and the lock-step loop, re-prefilling every turn.
     */
    rollout: RolloutEngineName;
    /** ORT intra-op threads of the engine worker (0: the same as `threads`). */
    workerThreads: number;
    /**
     * Train in a worker_thread (`WorkerTrainablePolicy`, `WorkerCritic`: actor, reference and critic
     * in one thread) on SharedArrayBuffer weights — the same buffers the engine worker snapshots.
     * With the 'async-worker' engine that thread is the engine worker's: one worker thread per device.
     */
    worker: boolean;
    /** The MatMuls' compute type (@sr1/model's `Precision`) of every engine: actor, reference, critic, rollouts. */
    precision: Precision;
  };
  seed: number;
}

/** The paper's settings that carry over to any scale (§4); batch sizes are the caller's. */
export const PAPER_PRESETS = {
  ppo: {
    algorithm: 'ppo',
    rolloutsPerPrompt: 1,
    actorLr: 1e-6,
    criticLr: 1e-5,
    warmupRatio: 0.285,
    klCoef: 0.001,
  },
  grpo: {
    algorithm: 'grpo',
    rolloutsPerPrompt: 5,
    actorLr: 1e-6,
    criticLr: 1e-5,
    warmupRatio: 0.285,
    klCoef: 0.001,
  },
} as const;

export async function loadRlConfig(file: string): Promise<RlConfig> {
  return parseRlConfig(await readConfigFile(file), file);
}

export function parseRlConfig(json: Record<string, unknown>, file?: string): RlConfig {
  const base = file === undefined ? process.cwd() : dirname(resolve(file));
  const path = (value: string) => resolve(base, value);
  const root = new ConfigReader(file, json);
  root.rejectUnknown([
    'preset',
    'policy',
    'index',
    'data',
    'algorithm',
    'steps',
    'promptsPerStep',
    'rolloutsPerPrompt',
    'miniBatchSize',
    'microBatchSize',
    'ppoEpochs',
    'actorLr',
    'criticLr',
    'warmupRatio',
    'clipRatio',
    'entropyCoef',
    'klCoef',
    'klMode',
    'klEstimator',
    'grpoNormalizeByStd',
    'maskRetrievedTokens',
    'reward',
    'searchCost',
    'searchCache',
    'prompt',
    'rollout',
    'validateEvery',
    'output',
    'engine',
    'seed',
    'maxNonFiniteSteps',
  ]);
  const preset = root.has('preset')
    ? PAPER_PRESETS[root.choice('preset', ['ppo', 'grpo'] as const, 'grpo')]
    : PAPER_PRESETS.grpo;
  const algorithm = root.choice('algorithm', ['ppo', 'grpo'] as const, preset.algorithm);
  const data = root.object('data');
  data.rejectUnknown(['train', 'validation', 'validationLimit']);
  const rollout = root.object('rollout');
  rollout.rejectUnknown([
    'maxTurns',
    'maxTokensPerTurn',
    'maxObsTokens',
    'topk',
    'temperature',
    'toolFormat',
    'tools',
    'maxSearches',
  ]);
  const rolloutJson = (json.rollout ?? {}) as Record<string, unknown>;
  const toolFormat = rollout.choice('toolFormat', ['tags', 'hermes'] as const, 'tags'); // the paper's protocol
  const tools = readTools(rollout, rolloutJson.tools, toolFormat);
  // null or absent: no budget (the paper's); otherwise an integer ≥ 0
  const maxSearches =
    rolloutJson.maxSearches === undefined || rolloutJson.maxSearches === null
      ? null
      : rollout.number('maxSearches', undefined, { integer: true, min: 0 });
  const output = root.object('output');
  output.rejectUnknown(['dir', 'saveEvery']);
  const prompt = root.object('prompt');
  prompt.rejectUnknown(['template', 'chatTemplate']);
  const template = prompt.string('template', 'search-r1'); // the reference instruction
  if (template !== 'search-r1' && !template.includes('{question}')) {
    prompt.fail('template', "expected 'search-r1' or a text containing {question}");
  }
  const engine = root.object('engine');
  engine.rejectUnknown(['device', 'threads', 'rollout', 'workerThreads', 'worker', 'precision']);
  const device = engine.choice('device', ['cpu', 'cuda'] as const, 'cpu');
  const costReader = root.object('searchCost');
  const costKind = costReader.choice('kind', ['none', 'additive', 'otc'] as const, 'none');
  costReader.rejectUnknown(
    costKind === 'none' ? ['kind'] : costKind === 'additive' ? ['kind', 'c'] : ['kind', 'c', 'alpha'],
  );
  const searchCost: SearchCost =
    costKind === 'additive'
      ? { kind: 'additive', c: costReader.number('c', undefined, { min: 0 }) }
      : costKind === 'otc'
        ? {
            kind: 'otc',
            c: costReader.number('c', undefined, { min: 0, exclusiveMin: true }),
            ...(costReader.has('alpha')
              ? { alpha: costReader.number('alpha', 1, { min: 0, exclusiveMin: true }) }
              : {}),
          }
        : { kind: 'none' };
  validateSearchCost(searchCost);
  const promptsPerStep = root.number('promptsPerStep', 16, { integer: true, min: 1 }); // 16: a step in seconds on 2 cores
  const rolloutsPerPrompt = root.number('rolloutsPerPrompt', preset.rolloutsPerPrompt, {
    integer: true,
    min: 1,
  });
  if (algorithm === 'grpo' && rolloutsPerPrompt < 2)
    root.fail('rolloutsPerPrompt', 'GRPO needs at least 2 rollouts per prompt');
  if (algorithm !== 'grpo' && root.has('grpoNormalizeByStd'))
    root.fail('grpoNormalizeByStd', 'applies to GRPO only (PPO uses GAE advantages)');
  const grpoNormalizeByStd = root.boolean('grpoNormalizeByStd', true); // GRPO as published
  const steps = root.number('steps', undefined, { integer: true, min: 1 });
  return {
    policy: path(root.string('policy')),
    index: path(root.string('index')),
    data: {
      train: path(data.string('train')),
      validation: path(data.string('validation')),
      validationLimit: data.number('validationLimit', 64, { integer: true, min: 1 }), // 64: a quick greedy check
    },
    algorithm,
    steps,
    promptsPerStep,
    rolloutsPerPrompt,
    miniBatchSize: root.number('miniBatchSize', promptsPerStep * rolloutsPerPrompt, {
      integer: true,
      min: 1,
    }), // one update per step
    microBatchSize: root.number('microBatchSize', 8, { integer: true, min: 1 }), // 8: bounds activation memory
    ppoEpochs: root.number('ppoEpochs', 1, { integer: true, min: 1 }), // 1: the paper
    actorLr: root.number('actorLr', preset.actorLr, { min: 0, exclusiveMin: true }),
    criticLr: root.number('criticLr', preset.criticLr, { min: 0, exclusiveMin: true }),
    warmupRatio: root.number('warmupRatio', preset.warmupRatio, { min: 0, max: 1 }),
    clipRatio: root.number('clipRatio', 0.2, { min: 0, exclusiveMin: true }), // the paper's value
    entropyCoef: root.number('entropyCoef', 0.001, { min: 0 }), // the paper's value
    klCoef: root.number('klCoef', preset.klCoef, { min: 0 }), // the paper's value
    // The paper (veRL): PPO puts a k1 penalty in the reward; GRPO a k3 (low_var_kl) loss term.
    klMode: root.choice('klMode', ['reward', 'loss'] as const, algorithm === 'ppo' ? 'reward' : 'loss'),
    klEstimator: root.choice('klEstimator', KL_ESTIMATOR_NAMES, algorithm === 'ppo' ? 'k1' : 'k3'),
    grpoNormalizeByStd,
    maskRetrievedTokens: root.boolean('maskRetrievedTokens', true), // the paper's method
    reward: root.choice('reward', ['em', 'format'] as const, 'em'), // the paper's main runs use EM
    searchCost, // none: the paper's reward
    searchCache: root.number('searchCache', 4096, { integer: true, min: 0 }), // 4096: a few steps of distinct queries
    prompt: {
      template,
      chatTemplate: prompt.has('chatTemplate') ? prompt.boolean('chatTemplate', false) : 'auto', // auto: as the reference
    },
    rollout: {
      maxTurns: rollout.number('maxTurns', 4, { integer: true, min: 0 }), // the reference's max_turns
      maxTokensPerTurn: rollout.number('maxTokensPerTurn', 500, { integer: true, min: 1 }), // the reference's per-turn limit
      maxObsTokens: rollout.number('maxObsTokens', 500, { integer: true, min: 0 }), // the reference's max_obs_length
      topk: rollout.number('topk', 3, { integer: true, min: 1 }), // the paper's best top-k
      temperature: rollout.number('temperature', 1, { min: 0 }), // the paper's rollout temperature
      toolFormat,
      tools,
      maxSearches,
    },
    validateEvery: root.number('validateEvery', Math.max(1, Math.floor(steps / 5)), {
      integer: true,
      min: 1,
    }), // 5 points on the curve
    output: {
      dir: path(output.string('dir')),
      saveEvery: output.number('saveEvery', Math.max(1, Math.floor(steps / 5)), { integer: true, min: 1 }),
    },
    engine: {
      device,
      threads: engine.number('threads', 0, { integer: true, min: 0 }), // 0: ORT picks
      rollout: engine.choice('rollout', ROLLOUT_ENGINE_NAMES, DEFAULT_ROLLOUT_ENGINE),
      workerThreads: engine.number('workerThreads', 0, { integer: true, min: 0 }), // 0: as threads
      worker: engine.boolean('worker', true), // true: as sft — the same results as in-thread, the event loop stays free
      precision: enginePrecision(engine, device), // float32: every committed result was trained in it
    },
    maxNonFiniteSteps: root.number('maxNonFiniteSteps', DEFAULT_MAX_NON_FINITE_STEPS, {
      integer: true,
      min: 1,
    }), // 10: rides out a rare overflow, stops a diverged run (actorLr too high) within seconds
    seed: root.number('seed', 0, { integer: true, min: 0 }),
  };
}

/** `rollout.tools`: a list of distinct tool names with 'search'; 'open' only with native tool calls. */
function readTools(rollout: ConfigReader, value: unknown, toolFormat: ToolFormat): ToolName[] {
  if (value === undefined) return ['search']; // the paper's only tool
  const names: readonly ToolName[] = ['search', 'open'];
  if (
    !Array.isArray(value) ||
    !value.every((name) => (names as readonly unknown[]).includes(name)) ||
    new Set(value).size !== value.length
  ) {
    rollout.fail(
      'tools',
      `expected a list of distinct tools from [${names.join(', ')}], got ${JSON.stringify(value)}`,
    );
  }
  const tools = value as ToolName[];
  if (!tools.includes('search')) rollout.fail('tools', "expected a list with 'search'");
  if (tools.includes('open') && toolFormat !== 'hermes')
    rollout.fail('tools', "the 'open' tool needs rollout.toolFormat 'hermes'");
  return tools;
}
