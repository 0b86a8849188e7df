// The built `sr1-train` CLI's report pieces: `report RUN_DIR...` writes one page over several runs,
// bad input is one line with exit 2, and `--dashboard PORT` serves while a real (tiny) SFT run
// lasts and is gone when the process exits.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tinyModelFolder, tinyPpoJson, tinyWorld } from '../testing/index.js';
import { checkReportInBrowser } from './browser-check.js';
import { loadRun } from './run-data.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./__fixtures__/${name}`, import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

describe('sr1-train report', () => {
  it('writes one self-contained page over several run folders', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'sr1-report-cli-')), 'compare.html');
    const result = cli('report', fixture('demo-masked'), fixture('demo-unmasked'), '--out', out);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(`report: ${out} (2 runs)\n`);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('<title>sr1 runs: demo-masked vs demo-unmasked</title>');
    expect(html).toContain('"label":"demo-unmasked"');

    // An existing page is kept unless --force says to replace it.
    await writeFile(out, 'my notes');
    const again = cli('report', fixture('demo-masked'), '--out', out);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(
      `sr1-train report: ${out}: flag --out: exists; pass --force to replace it, or choose another file with --out\n`,
    );
    expect(await readFile(out, 'utf8')).toBe('my notes');
    const forced = cli('report', fixture('demo-masked'), '--out', out, '--force');
    expect(forced.status).toBe(0);
    expect(await readFile(out, 'utf8')).toContain('<title>');
  });

  it('answers --help and refuses bad input in one line with exit 2', async () => {
    const help = cli('report', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('usage: sr1-train report [--out FILE] [--title TEXT] [--force] RUN_DIR...');
    const none = cli('report');
    expect(none.status).toBe(2);
    expect(none.stderr).toBe(
      'sr1-train report: flag RUN_DIR...: at least 1 expected; see sr1-train report --help\n',
    );
    const empty = await mkdtemp(join(tmpdir(), 'sr1-report-empty-'));
    const missing = cli('report', empty);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toBe(
      `sr1-train report: ${empty}: has no metrics.jsonl (nor rl-run/metrics.jsonl); is it a run folder?\n`,
    );
    const port = cli('rl', '--config', 'x.json', '--dashboard', '70000');
    expect(port.status).toBe(2);
    expect(port.stderr).toContain('flag --dashboard: must be ≤ 65535, got 70000');
  });
});

describe('sr1-train sft --dashboard', () => {
  it('announces the live page of a real run and stops with it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-dashboard-cli-'));
    const data = join(dir, 'train.jsonl');
    await writeFile(data, `${JSON.stringify({ text: 'Paris is the capital of France.' })}\n`.repeat(4));
    const config = join(dir, 'sft.json');
    await writeFile(
      config,
      JSON.stringify({
        model: { path: await tinyModelFolder(3) },
        data: { train: data, maxLength: 32 },
        training: { steps: 3, batchSize: 2, microBatchSize: 2, lr: 1e-3, schedule: 'constant', seed: 1 },
        output: { dir: join(dir, 'run'), saveEvery: 3 },
        engine: { threads: 1 },
      }),
    );
    const child = spawn(process.execPath, [CLI, 'sft', '--config', config, '--quiet', '--dashboard', '0']);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // Serving during the run is pinned in-process (dashboard.test.ts, withDashboard); here: the
    // flag starts the server, and the server does not hold the process open after the run.
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match !== null) resolve(match[1]!);
      });
      child.once('exit', () => reject(new Error(`exited before announcing a dashboard: ${stdout}${stderr}`)));
    });
    const code = await new Promise<number | null>((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', resolve);
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/sft done: 3 steps/);
    await expect(fetch(url)).rejects.toThrow();
    expect(existsSync(join(dir, 'run', 'metrics.jsonl'))).toBe(true);

    // The SFT run's own report: curves only (no table, no trajectories), drawn without errors.
    expect(cli('report', join(dir, 'run')).status).toBe(0);
    const check = await checkReportInBrowser(join(dir, 'run', 'report.html'), {
      screenshot: join(dir, 'report.png'),
    });
    expect(check.errors).toEqual([]);
    expect(check.chartCanvases).toBeGreaterThanOrEqual(2); // loss, gradient norm, tokens/s
    expect(check.trajectories).toBe(0);
    expect(check.evaluationRows).toBe(0);
  });
});

describe('sr1-train rl', () => {
  it("leaves its latest validation's trajectories for the report", async () => {
    const world = await tinyWorld(5);
    const config = join(world.dir, 'rl.json');
    const output = join(world.dir, 'rl-run');
    await writeFile(
      config,
      JSON.stringify({
        ...tinyPpoJson(world, await tinyModelFolder(4), 2),
        data: { train: world.questions, validation: world.questions, validationLimit: 6 },
        steps: 1,
        output: { dir: output, saveEvery: 1 },
      }),
    );
    const result = cli('rl', '--config', config, '--quiet');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const run = await loadRun(output);
    expect(run.trajectories).toHaveLength(6);
    expect(new Set(run.trajectories.map((t) => t.type)).size).toBeGreaterThan(1);
    for (const trajectory of run.trajectories) {
      expect(trajectory.segments.map((segment) => segment.text).join('')).not.toBe('');
      for (const search of trajectory.searches) expect(search.hits.length).toBeGreaterThan(0);
    }
  });
});
