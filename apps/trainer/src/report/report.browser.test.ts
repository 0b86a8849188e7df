// The report as a reader sees it, in headless Chromium: two real demo runs overlaid (masked and
// unmasked retrieved tokens, 16 GRPO steps each, recorded in __fixtures__/), charts drawn with
// ticks and hover values, no script errors, every question type in the viewer and both filters
// narrowing it. Needs Debian's chromium (`apt-get update && apt-get install -y chromium`).

import { existsSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeReport } from '../report.js';
import { CHROMIUM_ARGS, ChromiumMissingError, checkReportInBrowser, findChromium } from './browser-check.js';
import { startDashboard } from './dashboard.js';
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
    // The EMA is applied (smoothed differs from raw somewhere) and the slider at 0 turns it off.
    expect(check.hoverRaw).toHaveLength(runs.length);
    expect(check.hoverValues).not.toEqual(check.hoverRaw);
    expect(check.unsmoothedValues).toEqual(check.hoverRaw);

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

  it('follows a run live on the dashboard and says when the run has ended', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-report-live-'));
    const lines = (await readFile(join(RUNS[0]!, 'rl-run', 'metrics.jsonl'), 'utf8')).trim().split('\n');
    await writeFile(join(dir, 'metrics.jsonl'), `${lines.slice(0, 5).join('\n')}\n`);
    const dashboard = await startDashboard({ port: 0, runDirs: [dir], title: 'live', pollMs: 100 });
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      page.setDefaultTimeout(0); // no wall-clock limit: vitest's hang timeout is the only one
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      await page.goto(dashboard.url);
      const lastStep = (n: number) => JSON.parse(lines[n - 1]!).step as number;
      await page
        .locator('#live-status', { hasText: new RegExp(`step ${lastStep(5)} ·`) })
        .waitFor({ timeout: 0 });
      await appendFile(join(dir, 'metrics.jsonl'), `${lines.slice(5).join('\n')}\n`);
      await page
        .locator('#live-status', { hasText: new RegExp(`step ${lastStep(lines.length)} ·`) })
        .waitFor({ timeout: 0 });
      expect(await page.locator('#charts-main .chart canvas').count()).toBeGreaterThanOrEqual(4);
      expect(errors).toEqual([]);
      await dashboard.close();
      await page.locator('#live-status', { hasText: 'the run has ended' }).waitFor({ timeout: 0 });
    } finally {
      await browser.close();
      await dashboard.close();
    }
  });

  it('fails with the install command when Chromium is missing', () => {
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(ChromiumMissingError);
    expect(() => findChromium(['/nonexistent/chromium'])).toThrow(
      'install it with `apt-get update && apt-get install -y chromium`',
    );
  });
});
