// The report as a reader sees it, in headless Chromium: two real demo runs overlaid (masked and
// unmasked retrieved tokens, 16 GRPO steps each, recorded in __fixtures__/), charts drawn with
// ticks and hover values, no script errors, every question type in the viewer and both filters
// narrowing it. Needs Debian's chromium (`apt-get update && apt-get install -y chromium`).

import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../report.js';
import { ChromiumMissingError, checkReportInBrowser, findChromium } from './browser-check.js';
import { loadRuns } from './run-data.js';

const fixture = (name: string) => fileURLToPath(new URL(`./__fixtures__/${name}`, import.meta.url));
const RUNS = [fixture('demo-masked'), fixture('demo-unmasked')];

describe('the report in headless Chromium', () => {
  it('draws the overlaid runs and filters the trajectories', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-report-browser-'));
    const file = await writeReport({ runDirs: RUNS, out: join(dir, 'report.html') });
    const screenshot = join(dir, 'report.png');
    const check = await checkReportInBrowser(file, { screenshot });
    console.log(`report screenshot: ${screenshot}`);

    expect(check.errors).toEqual([]);
    const runs = await loadRuns(RUNS);
    const html = await readFile(file, 'utf8');
    const plan = JSON.parse(
      /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!,
    ).plan as { charts: { key: string; main: boolean }[]; flat: { key: string }[] };
    const mainCharts = plan.charts.filter((chart) => chart.main).length;
    expect(mainCharts).toBeGreaterThanOrEqual(4);
    // uPlot draws each chart on one canvas; every one has its two axes.
    expect(check.chartCanvases).toBe(mainCharts);
    expect(check.chartsWithTicks).toBe(mainCharts);
    // Hovering the reward chart: the step under the cursor and both runs' values there.
    expect(check.hoverStep).toMatch(/^step \d+$/);
    expect(check.hoverValues).toHaveLength(runs.length);
    for (const value of check.hoverValues) expect(value).toMatch(/^-?\d/);

    const trajectories = runs[0]!.trajectories;
    expect(check.trajectories).toBe(trajectories.length);
    expect(Object.keys(check.byType)).toEqual(['single-hop', 'two-hop', 'comparison']);
    for (const [type, shown] of Object.entries(check.byType)) {
      expect(shown).toEqual({ shown: trajectories.filter((t) => t.type === type).length, allOfType: true });
    }
    const correct = trajectories.filter((t) => t.exactMatch === 1).length;
    expect(check.byOutcome.correct).toEqual({ shown: correct, allOfOutcome: true });
    expect(check.byOutcome.wrong).toEqual({ shown: trajectories.length - correct, allOfOutcome: true });
    expect(correct).toBeGreaterThan(0);
    expect(correct).toBeLessThan(trajectories.length);

    expect(check.searchesWithHits).toBe(trajectories.filter((t) => t.searches.length > 0).length);
    expect(check.searchesWithHits).toBeGreaterThan(0);
    expect(check.insertedSpans).toBeGreaterThan(0);
    expect(check.evaluationRows).toBe(runs.reduce((sum, run) => sum + run.summaries.length, 0));
    expect(existsSync(screenshot)).toBe(true);
  });

  it('fails with the install command when Chromium is missing', () => {
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(ChromiumMissingError);
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(
      'install it with `apt-get update && apt-get install -y chromium`',
    );
  });
});
