// An RL run whose start fails after its engine worker has started ends that worker: the process
// exits with the error instead of hanging on the live thread. A PPO checkpoint without its critic
// is resumed through the built CLI (turbo builds the trainer before its tests) as a child process.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { tinyModelFolder, tinyPpoJson, tinyWorld } from './testing/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('a failed RL start', () => {
  it('ends the engine worker it started: the resumed run exits with the error', async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the trainer first (npm test does)`);
    const world = await tinyWorld(14);
    const modelDir = await tinyModelFolder(8);
    const dir = join(world.dir, 'run');
    const json = {
      ...tinyPpoJson(world, modelDir, 4),
      steps: 1,
      output: { dir, saveEvery: 1 },
      seed: 3,
      engine: { threads: 1, worker: true, rollout: 'async-worker' },
    };
    await runRl(parseRlConfig(json), { resume: false, quiet: true });
    const checkpoint = join(dir, 'checkpoints', 'step-000001');
    await rm(join(checkpoint, 'critic.safetensors'));
    const configFile = join(world.dir, 'run.json');
    await writeFile(configFile, JSON.stringify({ ...json, steps: 2 }));

    const child = spawn(process.execPath, [CLI, 'rl', '--config', configFile, '--resume', '--quiet'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // A run that did not end its worker never exits: the test then fails on vitest's timeout, and
    // the child is killed here.
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) =>
      child.on('exit', (exitCode) => resolve(exitCode)),
    );
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(stderr).toContain('critic.safetensors');
  });
});
