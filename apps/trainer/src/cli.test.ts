// Bad flags of the built `sr1-train` CLI: exit code 2 and a message naming the flag, before any work.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

describe('sr1-train flags', () => {
  it.each([
    [['make-base', '--worlds', '0'], 'flag --worlds: expected at least 1, got 0'],
    [['make-base', '--steps', '1.5'], "flag --steps: expected a non-negative integer, got '1.5'"],
    [['make-base', '--lr', 'fast'], "flag --lr: expected a positive number, got 'fast'"],
    [['demo', '--algorithm', 'sac'], "flag --algorithm: expected one of grpo, ppo, got 'sac'"],
    [['demo', '--threads', 'two'], "flag --threads: expected a non-negative integer, got 'two'"],
    [['rl'], 'flag --config: is required'],
    [['train'], "unknown command 'train'"],
  ])('sr1-train %j fails naming the flag', (args, message) => {
    const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });
});
