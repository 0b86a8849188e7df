// Shared setup of the trainer's tests: a random tiny Qwen2 model folder on the project's own
// tokenizer, and a small toy world with its BM25 index, both in a temporary folder.

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { TOY_TEMPLATE } from '../prompt-options.js';
import { materializeWorld, type ToyWorldFiles } from '../toy-setup.js';

export { tinyModelFolder } from '@sr1/model/testing';

/** The small tokenizer's vocabulary with the tiny test model's shapes. */
export const TINY_CONFIG = tinyQwen2ForSmallTokenizer();

export async function tinyWorld(seed = 7) {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-tiny-world-'));
  return materializeWorld(dir, { seed, people: 12, questionsPerType: 4 });
}

/**
 * An `sr1-train rl` config (as JSON) for PPO on a tiny world: one short turn per rollout, one
 * thread (bit-for-bit repeatable), validation out of the way. Tests add steps, output and overrides.
 */
export function tinyPpoJson(world: ToyWorldFiles, modelDir: string, promptsPerStep: number) {
  return {
    policy: modelDir,
    index: world.index,
    data: { train: world.questions, validation: world.questions, validationLimit: 2 },
    preset: 'ppo',
    promptsPerStep,
    microBatchSize: promptsPerStep,
    actorLr: 1e-4,
    criticLr: 1e-3,
    prompt: { template: TOY_TEMPLATE, chatTemplate: false },
    rollout: { maxTurns: 1, maxTokensPerTurn: 8, topk: 2 },
    validateEvery: 10,
    engine: { threads: 1 },
  };
}

/** The records of a run's metrics.jsonl; `rlSteps` keeps only RL training steps (not validations). */
export async function readMetrics(dir: string, rlSteps = false): Promise<Record<string, number>[]> {
  const records = (await readFile(join(dir, 'metrics.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, number>);
  return rlSteps ? records.filter((record) => record['reward/mean'] !== undefined) : records;
}
