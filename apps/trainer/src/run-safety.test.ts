// A run's history is never destroyed by accident: a second run into the same folder refuses
// without --resume or --force, --resume without latest.json continues from the newest complete
// checkpoint, a corrupt checkpoint is reported before metrics.jsonl is touched, latest.json never
// leads outside the run folder, and a `model.init` run resumes bit for bit. Real tiny models and
// the built CLI (turbo builds the trainer before its tests).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@sr1/core';
import { SMALL_TOKENIZER } from '@sr1/model/testing';
import { NonFiniteStepsError } from '@sr1/train';
import { describe, expect, it } from 'vitest';
import { parseRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { parseSftConfig, type SftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import { readMetrics, tinyModelFolder, tinyPpoJson, tinyWorld } from './testing/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const TEXTS = [
  'Paris is the capital of France.',
  'Berlin is the capital of Germany.',
  'Rome is the capital of Italy.',
  'Madrid is the capital of Spain.',
  'Vienna is the capital of Austria.',
  'Lisbon is the capital of Portugal.',
];

/** An SFT config on a tiny model (a folder, or `model.init` from its config.json), one thread. */
async function sftSetup(kind: 'path' | 'init', steps: number) {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-run-safety-'));
  const modelDir = await tinyModelFolder(5);
  const data = join(dir, 'data.jsonl');
  await writeFile(data, TEXTS.map((text) => `${JSON.stringify({ text })}\n`).join(''));
  const json = {
    model:
      kind === 'path'
        ? { path: modelDir }
        : { init: { config: join(modelDir, 'config.json'), tokenizer: SMALL_TOKENIZER, seed: 4 } },
    data: { train: data, maxLength: 64 },
    training: { steps, batchSize: 4, microBatchSize: 2, lr: 3e-3, schedule: 'constant', seed: 2 },
    output: { dir: join(dir, 'run'), saveEvery: 1, keep: 10 },
    engine: { threads: 1 },
  };
  const configFile = join(dir, 'sft.json');
  await writeFile(configFile, JSON.stringify(json));
  return { dir, configFile, json, config: parseSftConfig(json) };
}

const withSteps = (config: SftConfig, steps: number, dir = config.output.dir): SftConfig => ({
  ...config,
  training: { ...config.training, steps },
  output: { ...config.output, dir },
});

describe('a run folder that holds an earlier run', () => {
  it('sft without --resume refuses, naming --resume and --force, and leaves the history as it was', async () => {
    const { config } = await sftSetup('path', 2);
    await runSft(config, { resume: false, quiet: true });
    const metricsFile = join(config.output.dir, 'metrics.jsonl');
    const before = await readFile(metricsFile, 'utf8');
    const error = await runSft(config, { resume: false, quiet: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).code).toBe('run_exists');
    expect((error as Error).message).toContain('--resume');
    expect((error as Error).message).toContain('--force');
    expect(await readFile(metricsFile, 'utf8')).toBe(before);
    expect(existsSync(join(config.output.dir, 'checkpoints', 'step-000002'))).toBe(true);
  });

  it('the CLI refuses in one line with exit 2; --force starts the run over', async () => {
    const { config, configFile } = await sftSetup('path', 2);
    const run = (...flags: string[]) =>
      spawnSync(process.execPath, [CLI, 'sft', '--config', configFile, '--quiet', ...flags], {
        encoding: 'utf8',
      });
    const first = run();
    expect(first.status, first.stderr).toBe(0);
    const refused = run();
    expect(refused.status, refused.stderr).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/--resume.*--force/);
    const forced = run('--force');
    expect(forced.stderr).toBe('');
    expect(forced.status).toBe(0);
    expect((await readMetrics(config.output.dir)).map((m) => m.step)).toEqual([1, 2]);
    expect(run('--resume', '--force').status).toBe(2);
  });

  it('--resume without latest.json continues from the newest complete checkpoint, not step 0', async () => {
    const { config } = await sftSetup('path', 3);
    await runSft(withSteps(config, 2), { resume: false, quiet: true });
    await rm(join(config.output.dir, 'checkpoints', 'latest.json'));
    // A mark on step 1's record: a restart from step 0 would rewrite it.
    const metricsFile = join(config.output.dir, 'metrics.jsonl');
    const [first, ...rest] = (await readFile(metricsFile, 'utf8')).trim().split('\n');
    const marked = JSON.stringify({ ...JSON.parse(first!), mark: 'kept' });
    await writeFile(metricsFile, [marked, ...rest].map((line) => `${line}\n`).join(''));
    await runSft(config, { resume: true, quiet: true });
    const records = await readMetrics(config.output.dir);
    expect(records.map((m) => m.step)).toEqual([1, 2, 3]);
    expect(records[0]!.mark).toBe('kept');
  });

  it.each([
    ['valid JSON without a step', '{"hasOptimizer": true, "state": {}}'],
    ['a cursor that is not a number', null],
    ['torn JSON', '{"step": 2, "hasOpt'],
  ])('a corrupt trainer-state.json (%s) is reported before metrics.jsonl is touched', async (_, text) => {
    const { config } = await sftSetup('path', 2);
    await runSft(config, { resume: false, quiet: true });
    const stateFile = join(config.output.dir, 'checkpoints', 'step-000002', 'trainer-state.json');
    const saved = JSON.parse(await readFile(stateFile, 'utf8')) as { state: Record<string, unknown> };
    await writeFile(stateFile, text ?? JSON.stringify({ ...saved, state: { ...saved.state, cursor: 'x' } }));
    const metricsFile = join(config.output.dir, 'metrics.jsonl');
    const resolvedFile = join(config.output.dir, 'config.resolved.json');
    const before = await readFile(metricsFile, 'utf8');
    const resolvedBefore = await readFile(resolvedFile, 'utf8');
    const error = await runSft(withSteps(config, 4), { resume: true, quiet: true }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(stateFile);
    expect(await readFile(metricsFile, 'utf8')).toBe(before);
    expect(await readFile(resolvedFile, 'utf8')).toBe(resolvedBefore);
  });

  it('a latest.json pointing outside the run folder is a typed error, and nothing is truncated', async () => {
    const { config } = await sftSetup('path', 2);
    await runSft(config, { resume: false, quiet: true });
    // A complete-looking checkpoint outside the run folder, which the old loader followed.
    await writeFile(
      join(config.output.dir, 'checkpoints', 'latest.json'),
      JSON.stringify({ step: 0, dir: '../../elsewhere' }),
    );
    const metricsFile = join(config.output.dir, 'metrics.jsonl');
    const before = await readFile(metricsFile, 'utf8');
    const error = await runSft(withSteps(config, 4), { resume: true, quiet: true }).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('dir');
    expect(await readFile(metricsFile, 'utf8')).toBe(before);
  });
});

describe('a model.init run', () => {
  it('resumes bit for bit: the same losses and gradient norms as an uninterrupted run', async () => {
    const { config, dir } = await sftSetup('init', 4);
    await runSft(withSteps(config, 4, join(dir, 'straight')), { resume: false, quiet: true });
    await runSft(withSteps(config, 2, join(dir, 'resumed')), { resume: false, quiet: true });
    await runSft(withSteps(config, 4, join(dir, 'resumed')), { resume: true, quiet: true });
    const straight = await readMetrics(join(dir, 'straight'));
    const resumed = await readMetrics(join(dir, 'resumed'));
    expect(resumed.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    for (let i = 0; i < 4; i++) {
      expect(resumed[i]!.loss, `step ${i + 1} loss`).toBe(straight[i]!.loss);
      expect(resumed[i]!.gradNorm, `step ${i + 1} gradNorm`).toBe(straight[i]!.gradNorm);
    }
    const final = (name: string) => readFile(join(dir, name, 'final', 'model.safetensors'));
    expect(Buffer.compare(await final('straight'), await final('resumed'))).toBe(0);
  });
});

describe('a diverged run (lr 1e300)', () => {
  it('sr1-train sft stops after maxNonFiniteSteps skipped steps in a row: one line, exit 1', async () => {
    const { dir, json } = await sftSetup('path', 30);
    const configFile = join(dir, 'diverging.json');
    await writeFile(
      configFile,
      JSON.stringify({ ...json, training: { ...json.training, lr: 1e300, maxNonFiniteSteps: 4 } }),
    );
    const result = spawnSync(process.execPath, [CLI, 'sft', '--config', configFile, '--quiet'], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('training diverged: 4 steps in a row');
    // Step 1 applied the absurd update; steps 2–5 were not finite; nothing ran after.
    const records = await readMetrics(json.output.dir);
    expect(records.map((m) => m.skipped)).toEqual([false, true, true, true, true]);
  });

  it('sr1-train rl stops the same way (actorLr 1e300)', async () => {
    const world = await tinyWorld(5);
    const modelDir = await tinyModelFolder(9);
    const config = parseRlConfig({
      ...tinyPpoJson(world, modelDir, 2),
      preset: 'grpo',
      rolloutsPerPrompt: 2,
      actorLr: 1e300,
      warmupRatio: 0,
      steps: 12,
      maxNonFiniteSteps: 3,
      output: { dir: join(world.dir, 'rl'), saveEvery: 100 },
    });
    const error = await runRl(config, { resume: false, quiet: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NonFiniteStepsError);
    const steps = await readMetrics(config.output.dir, true);
    expect(steps.length).toBeLessThan(12);
    expect(steps.slice(-3).map((m) => m['actor/skipped'])).toEqual([1, 1, 1]);
    expect((error as NonFiniteStepsError).step).toBe(steps.length);
  });
});
