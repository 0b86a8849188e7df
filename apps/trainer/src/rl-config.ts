// The `sr1-train rl` config: typed, validated, every default with its reason. The `preset` field
// starts from the paper's PPO or GRPO settings (reference §4); explicit fields override it.

import { dirname, resolve } from 'node:path';
import { type SearchCost, validateSearchCost } from '@sr1/reward';
import { KL_ESTIMATOR_NAMES, type KlEstimator } from '@sr1/rl';
import { ConfigReader, DEFAULT_MAX_NON_FINITE_STEPS, readConfigFile } from '@sr1/train';

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
  };
  validateEvery: number;
  output: { dir: string; saveEvery: number };
  /** Non-finite actor updates in a row (skipped) after which the run stops with NonFiniteStepsError. */
  maxNonFiniteSteps: number;
  engine: { device: 'cpu' | 'cuda'; threads: number };
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
  rollout.rejectUnknown(['maxTurns', 'maxTokensPerTurn', 'maxObsTokens', 'topk', 'temperature']);
  const output = root.object('output');
  output.rejectUnknown(['dir', 'saveEvery']);
  const prompt = root.object('prompt');
  prompt.rejectUnknown(['template', 'chatTemplate']);
  const template = prompt.string('template', 'search-r1'); // the reference instruction
  if (template !== 'search-r1' && !template.includes('{question}')) {
    prompt.fail('template', "expected 'search-r1' or a text containing {question}");
  }
  const engine = root.object('engine');
  engine.rejectUnknown(['device', 'threads']);
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
      device: engine.choice('device', ['cpu', 'cuda'] as const, 'cpu'),
      threads: engine.number('threads', 0, { integer: true, min: 0 }), // 0: ORT picks
    },
    maxNonFiniteSteps: root.number('maxNonFiniteSteps', DEFAULT_MAX_NON_FINITE_STEPS, {
      integer: true,
      min: 1,
    }), // 10: rides out a rare overflow, stops a diverged run (actorLr too high) within seconds
    seed: root.number('seed', 0, { integer: true, min: 0 }),
  };
}
