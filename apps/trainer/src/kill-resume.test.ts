// `sr1-train rl` killed with SIGKILL mid-step, then `--resume`d: the metrics must equal, bit for
// bit (one ORT thread), those of an uninterrupted run with the same seed. Runs the built CLI
// (turbo builds the trainer before its tests) as a child process, so the kill is a real kill -9.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { readMetrics, tinyModelFolder, tinyPpoJson, tinyWorld } from './testing/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('kill -9 and resume', () => {
  it.each(['lockstep', 'async-worker'] as const)(
    'a PPO run killed mid-step resumes with exactly the metrics of an uninterrupted run (rollout %s)',
    async (rollout) => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the trainer first (npm test does)`);
      const world = await tinyWorld(13);
      const modelDir = await tinyModelFolder(8);
      const json = (dir: string) => ({
        ...tinyPpoJson(world, modelDir, 4),
        steps: 4,
        output: { dir, saveEvery: 1 },
        seed: 3,
        engine: { threads: 1, rollout },
      });
      const straight = parseRlConfig(json(join(world.dir, 'straight')));
      await runRl(straight, { resume: false, quiet: true });

      const killedDir = join(world.dir, 'killed');
      const configFile = join(world.dir, 'killed.json');
      await writeFile(configFile, JSON.stringify(json(killedDir)));
      const child = spawn(process.execPath, [CLI, 'rl', '--config', configFile, '--quiet'], {
        stdio: 'ignore',
      });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_, signal) => resolve(signal)),
      );
      // Kill as soon as step 2's checkpoint is complete, i.e. while step 3 is running.
      const latest = join(killedDir, 'checkpoints', 'latest.json');
      for (;;) {
        if (existsSync(latest) && (JSON.parse(await readFile(latest, 'utf8')) as { step: number }).step >= 2)
          break;
        if (child.exitCode !== null) throw new Error('the run finished before it could be killed');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      const atKill = JSON.parse(await readFile(latest, 'utf8')) as { step: number };
      expect(atKill.step).toBeLessThan(4);

      await runRl(parseRlConfig(json(killedDir)), { resume: true, quiet: true });
      const a = await readMetrics(straight.output.dir, true);
      const b = await readMetrics(killedDir, true);
      expect(b.map((m) => m.step)).toEqual([1, 2, 3, 4]);
      for (let i = 0; i < 4; i++) {
        for (const key of [
          'reward/mean',
          'actor/pg_loss',
          'critic/vf_loss',
          'critic/kl',
          'response_length/mean',
        ]) {
          expect(b[i]![key], `step ${i + 1} ${key}`).toBe(a[i]![key]);
        }
      }
    },
  );
});
