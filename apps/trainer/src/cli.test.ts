// The built `sr1-train` CLI: bad flags fail before any work with exit code 2 and one line naming
// the flag; `--help`/`-h` works on the program and every command; make-base never replaces a
// folder (the committed base policy included) unless told to.

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMITTED_BASE_POLICY, program } from './cli.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const run = (args: string[], cwd?: string) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', ...(cwd !== undefined ? { cwd } : {}) });

describe('sr1-train flags', () => {
  it.each([
    [['make-base', '--out', '/tmp/x', '--worlds', '0'], 'flag --worlds: must be ≥ 1, got 0'],
    [['make-base', '--out', '/tmp/x', '--steps', '1.5'], "flag --steps: expected an integer, got '1.5'"],
    [['make-base', '--out', '/tmp/x', '--lr', 'fast'], "flag --lr: expected a number, got 'fast'"],
    [['make-base', '--out', '/tmp/x', '--lr', '0'], 'flag --lr: must be > 0, got 0'],
    [['make-base'], 'flag --out: is required'],
    [['demo', '--algorithm', 'sac'], "flag --algorithm: unknown value 'sac'. Supported: [grpo, ppo]"],
    [['demo', '--threads', 'two'], "flag --threads: expected an integer, got 'two'"],
    [['demo', '--steps', '0'], 'flag --steps: must be ≥ 1, got 0'],
    [
      ['demo', '--rollout', 'threads'],
      "flag --rollout: unknown value 'threads'. Supported: [async-worker, lockstep]",
    ],
    [
      ['demo', '--search-cost', 'cheap'],
      "flag --search-cost: field 'searchCost': expected 'none', 'additive:C'",
    ],
    [
      ['demo', '--search-cost', 'additive:-1'],
      "flag --search-cost: field 'searchCost.c': expected a number ≥ 0, got -1",
    ],
    [
      ['demo', '--cost-study', '--search-cost', 'none'],
      "flag --search-cost: the cost study compares a cost with none: give 'additive:C' or 'otc:C'",
    ],
    [
      ['demo', '--algorithm', 'ppo', '--no-std'],
      "flag --no-std: applies to GRPO only (PPO's advantages are GAE's)",
    ],
    [['make-base', '--out', '/tmp/x', '--famous', 'many'], "flag --famous: expected an integer, got 'many'"],
    [['make-base', '--out', '/tmp/x', '--recall-share', '1.5'], 'flag --recall-share: must be ≤ 1, got 1.5'],
    [['make-base', '--out', '/tmp/x', '--known-drills=-1'], 'flag --known-drills: must be ≥ 0, got -1'],
    [
      ['make-base', '--out', '/tmp/x', '--mix', 'plan:0.5,guess:0.5'],
      'flag --mix: expected STYLE:SHARE pairs',
    ],
    [['make-base', '--out', '/tmp/x', '--mix', 'plan:-1'], "flag --mix: expected a share ≥ 0 in 'plan:-1'"],
    [['rl'], 'flag --config: is required'],
    [['sft', '--config', 'x.json', '--resume', '--force'], 'give at most one of --resume and --force'],
    [['sft', '--confg', 'x.json'], "Unknown option '--confg'"],
    [['train'], "unknown command 'train'"],
  ])('sr1-train %j fails in one line naming the flag', (args, message) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a missing config file is one typed line, not a stack trace', () => {
    const result = run(['sft', '--config', '/nonexistent/sft.json']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('/nonexistent/sft.json');
    expect(result.stderr).not.toContain('    at ');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('sr1-train --help', () => {
  const commands = Object.keys(program.commands);

  it('lists every command', () => {
    for (const flag of ['--help', '-h']) {
      const result = run([flag]);
      expect(result.status).toBe(0);
      for (const command of commands) expect(result.stdout).toContain(command);
    }
    expect(commands).toEqual(expect.arrayContaining(['sft', 'rl', 'make-base', 'demo']));
  });

  it.each(['sft', 'rl', 'make-base', 'demo'])(
    'sr1-train %s --help and -h exit 0 with its flags',
    (command) => {
      for (const flag of ['--help', '-h']) {
        const result = run([command, flag]);
        expect(result.status, result.stderr).toBe(0);
        expect(result.stdout).toContain(`usage: sr1-train ${command}`);
        expect(result.stdout).toContain('--quiet');
      }
    },
  );

  it('every registered command answers --help', () => {
    for (const command of commands) {
      const result = run([command, '--help']);
      expect(result.status, `${command}: ${result.stderr}`).toBe(0);
      expect(result.stdout).toContain(`sr1-train ${command}`);
    }
  });
});

describe('sr1-train make-base --out', () => {
  it('refuses the committed base policy and any non-empty folder without --force, before any work', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sr1-make-base-'));
    const before = (await readdir(COMMITTED_BASE_POLICY)).sort();
    const committed = run(
      ['make-base', '--out', COMMITTED_BASE_POLICY, '--steps', '1', '--worlds', '1'],
      cwd,
    );
    expect(committed.status).toBe(2);
    expect(committed.stderr).toContain('the committed base policy');
    expect(committed.stderr).toContain('--force');
    expect((await readdir(COMMITTED_BASE_POLICY)).sort()).toEqual(before);

    const other = join(cwd, 'model');
    await mkdir(other);
    await writeFile(join(other, 'keep.txt'), 'mine');
    const refused = run(['make-base', '--out', other, '--steps', '1', '--worlds', '1'], cwd);
    expect(refused.status).toBe(2);
    expect(await readdir(other)).toEqual(['keep.txt']);
    // Nothing was started: no work folder under the current directory.
    expect(await readdir(cwd)).toEqual(['model']);
  });

  it('with --force replaces the folder it is given, and writes nothing into the committed assets', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sr1-make-base-'));
    const committed = join(COMMITTED_BASE_POLICY, 'model.safetensors');
    const before = await readFile(committed);
    const out = join(cwd, 'model');
    await mkdir(out);
    await writeFile(join(out, 'keep.txt'), 'old');
    const result = run(
      ['make-base', '--out', out, '--force', '--steps', '1', '--worlds', '1', '--quiet'],
      cwd,
    );
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain(`→ ${out}`);
    expect((await readdir(out)).sort()).toEqual(expect.arrayContaining(['README.md', 'model.safetensors']));
    expect(await readdir(out)).not.toContain('keep.txt');
    expect(await readFile(join(out, 'README.md'), 'utf8')).toContain(`make-base --out ${out} --seed 11`);
    expect(Buffer.compare(await readFile(committed), before)).toBe(0);
  });

  it('records the known-fact recipe (--famous, --recall-share, --known-drills, --search-drills, --mix) in the README', async () => {
    const cwd = await mkdtemp(join(tmpdir(), 'sr1-make-base-'));
    const out = join(cwd, 'model');
    const args = [
      '--famous',
      '2',
      '--recall-share',
      '1',
      '--known-drills',
      '3',
      '--search-drills',
      '1',
      '--mix',
      'plan:0.5,read:0.5',
    ];
    const result = run(
      ['make-base', '--out', out, '--steps', '1', '--worlds', '1', '--threads', '1', '--quiet', ...args],
      cwd,
    );
    expect(result.status, result.stderr).toBe(0);
    const readme = await readFile(join(out, 'README.md'), 'utf8');
    expect(readme).toContain(
      `make-base --out ${out} --seed 11 --steps 1 --worlds 1 --famous 2 --recall-share 1 --known-drills 3 --search-drills 1 --mix plan:0.5,direct:0,vague:0,read:0.5\``,
    );
    expect(readme).toContain(
      'whose 4 facts are asked in every world (recalled at once with probability 1, else looked up), plus 3 memorisation drills per fact and world (the recall with the loss on the answer only), and 1 choice drill per question',
    );
    // 3 drills × 4 known facts + 1 drill × the world's 60 questions about its own people.
    expect(readme).toContain('; 72 drills in all.');
  });
});
