// The built `sr1-bench` CLI (turbo builds the app before its tests): `--help`/`-h` on the program
// and every command exits 0; a bad flag or a missing input is one typed line with exit 2.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { program } from './cli.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('sr1-bench --help', () => {
  const commands = Object.keys(program.commands);

  it('lists every command, with --help and -h', () => {
    expect(commands).toEqual(['check-train-step', 'perf-train', 'eval', 'retrieval-quality', 'perf']);
    for (const flag of ['--help', '-h']) {
      const result = run([flag]);
      expect(result.status).toBe(0);
      for (const command of commands) expect(result.stdout).toContain(command);
    }
  });

  it.each(['check-train-step', 'perf-train', 'eval', 'retrieval-quality', 'perf'])(
    'sr1-bench %s --help and -h exit 0 with its usage, doing nothing else',
    (command) => {
      for (const flag of ['--help', '-h']) {
        const result = run([command, flag]);
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toContain(`usage: sr1-bench ${command}`);
        expect(result.stderr).toBe('');
      }
    },
  );
});

describe('sr1-bench errors', () => {
  it.each([
    [['perf-train'], 'flag --config: is required'],
    [['perf-train', '--config', 'c.json', '--batch', '0'], 'flag --batch: must be ≥ 1, got 0'],
    [
      ['perf-train', '--config', 'c.json', '--steps', 'many'],
      "flag --steps: expected an integer, got 'many'",
    ],
    [['eval', '--out', '/tmp/x'], 'flag --data: is required; see sr1-bench eval --help'],
    [['eval', '--datta', 'x'], "Unknown option '--datta'"],
    [['retrieval-quality', '--data', 'x'], 'flag --corpus: is required'],
    [['perf', '--only', 'nope', '--out', '-'], "flag --only: unknown benchmark 'nope'"],
    [
      ['perf', '--quick', '--threads', '0'],
      "flag --threads: expected positive integers like 1,2, got '0' in '0'",
    ],
    [['check-train-step', 'extra'], "unexpected argument 'extra'"],
    [['bench'], "unknown command 'bench'"],
  ])('sr1-bench %j fails in one line naming the flag, exit 2', (args, message) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing --config file is one line naming the file, not a stack trace', () => {
    const result = run(['perf-train', '--config', '/nonexistent/config.json']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('/nonexistent/config.json');
    expect(result.stderr).not.toContain('    at ');
  });
});
