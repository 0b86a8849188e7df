// `npm run check:report -w sr1-trainer` finds the report the demo wrote: npm runs the script in
// apps/trainer, the demo writes under the folder `npm run demo` ran in (the repository root).

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEMO_REPORT, locateReport } from './report-path.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('locateReport', () => {
  it('finds the demo report under the repository root when the command ran elsewhere', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sr1-root-'));
    await mkdir(join(root, 'runs/demo'), { recursive: true });
    await writeFile(join(root, DEMO_REPORT), '<html></html>');
    const found = locateReport(undefined, { initCwd: join(root, 'apps/trainer'), repoRoot: root });
    expect(found.file).toBe(join(root, DEMO_REPORT));
    expect(found.tried).toEqual([join(root, 'apps/trainer', DEMO_REPORT), join(root, DEMO_REPORT)]);
  });

  it('takes a relative argument from the folder the command was typed in', () => {
    const found = locateReport('runs/a/report.html', { initCwd: '/work/x', repoRoot: '/repo' });
    expect(found).toEqual({ file: '/work/x/runs/a/report.html', tried: ['/work/x/runs/a/report.html'] });
  });
});

describe('npm run check:report -w sr1-trainer', () => {
  it('resolves a relative path against the folder npm was run from, not apps/trainer', () => {
    const missing = `runs/no-such-run-${process.pid}/report.html`;
    const result = spawnSync('npm', ['run', 'check:report', '-w', 'sr1-trainer', '--', missing], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(`no report at ${join(ROOT, missing)};`);
  });
});
