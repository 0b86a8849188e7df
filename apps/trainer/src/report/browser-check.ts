// Opens a report in headless Chromium (Debian's, driven by playwright-core) and checks what a
// reader sees: charts drawn on canvases with axes, hover values in the legend, no script errors,
// and the trajectory viewer's filters narrowing the list. Used by the browser test and by
// `npm run check:report`; writes a screenshot.

import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Sr1Error } from '@sr1/core';

/** Where Chromium is looked for; CHROMIUM overrides. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser'];

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox', // CI runs as root, where Chromium's sandbox refuses to start
  '--disable-gpu',
  '--disable-dev-shm-usage', // small /dev/shm in containers
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Chromium is not installed: the message names the command that installs it. */
export class ChromiumMissingError extends Sr1Error {
  constructor(tried: readonly string[]) {
    super(
      'chromium_missing',
      `no Chromium found (tried ${tried.join(', ')}); install it with \`apt-get update && apt-get install -y chromium\` or set CHROMIUM to its path`,
    );
  }
}

/** The first Chromium that exists among `candidates` (CHROMIUM, then Debian's paths). */
export function findChromium(
  candidates: readonly string[] = [process.env.CHROMIUM ?? '', ...CHROMIUM_CANDIDATES].filter(
    (path) => path !== '',
  ),
): string {
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) throw new ChromiumMissingError(candidates);
  return found;
}

export interface ReportCheck {
  /** Canvases drawn in the key-curves section. */
  chartCanvases: number;
  /** Charts whose axes have tick labels. */
  chartsWithTicks: number;
  /** The readout under the first chart while hovering it: "step N", and each run's value. */
  hoverStep: string;
  /** Smoothed (default EMA) and raw values there, per run; and the values with smoothing at 0. */
  hoverValues: string[];
  hoverRaw: string[];
  unsmoothedValues: string[];
  /** Console errors and uncaught exceptions. */
  errors: string[];
  trajectories: number;
  /** Per question type: how many the type filter shows, and whether all shown have that type. */
  byType: Record<string, { shown: number; allOfType: boolean }>;
  /** Per outcome: how many the outcome filter shows, and whether all shown have that outcome. */
  byOutcome: Record<'correct' | 'wrong', { shown: number; allOfOutcome: boolean }>;
  /** Trajectories showing at least one search query with hits. */
  searchesWithHits: number;
  insertedSpans: number;
  evaluationRows: number;
  chromium: string;
}

/** Renders `file` (an HTML report) and checks it; writes a full-page screenshot to `screenshot`. */
export async function checkReportInBrowser(
  file: string,
  options: {
    screenshot: string;
    width?: number;
    /** Limit for each browser action; 0 (the default) waits as long as it takes, for busy machines. */
    timeoutMs?: number;
  },
): Promise<ReportCheck> {
  const chromium = findChromium();
  const { chromium: launcher } = await import('playwright-core');
  const browser = await launcher.launch({ executablePath: chromium, args: CHROMIUM_ARGS, headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: options.width ?? 1400, height: 1000 } });
    page.setDefaultTimeout(options.timeoutMs ?? 0);
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const count = (selector: string) => page.locator(selector).count();
    const chartCanvases = await count('#charts-main .chart canvas');
    const chartsWithTicks = await page
      .locator('#charts-main .chart')
      .evaluateAll(
        (charts) => charts.filter((chart) => chart.querySelectorAll('.u-axis').length >= 2).length,
      );
    let hoverValues: string[] = [];
    let hoverStep = '';
    let hoverRaw: string[] = [];
    let unsmoothedValues: string[] = [];
    const firstChart = page.locator('#charts-main .chart .u-over').first();
    if ((await firstChart.count()) > 0) {
      const box = await firstChart.boundingBox();
      if (box !== null) await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2);
      hoverStep = (await page.locator('#charts-main .chart .readout .rv-step').first().textContent()) ?? '';
      const readout = page.locator('#charts-main .chart').first().locator('.readout');
      hoverValues = await readout.locator('.value').allTextContents();
      hoverRaw = (await readout.locator('.raw').allTextContents()).map((text) =>
        text.replace(/^ \(raw (.*)\)$/, '$1'),
      );
      await page.locator('#smoothing').fill('0'); // no smoothing: the bold curve is the raw data
      unsmoothedValues = await readout.locator('.value').allTextContents();
    }
    await page.locator('#smoothing').fill('0.9'); // moving the slider redraws every chart
    const trajectories = await count('#trajectories details.traj');
    const types = await page
      .locator('#filter-type option')
      .evaluateAll((options) => options.map((option) => option.getAttribute('value') ?? ''));
    const byType: ReportCheck['byType'] = {};
    for (const type of types.filter((value) => value !== 'all')) {
      await page.selectOption('#filter-type', type);
      const shown = await page
        .locator('#trajectories details.traj')
        .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-type')));
      byType[type] = { shown: shown.length, allOfType: shown.every((value) => value === type) };
    }
    await page.selectOption('#filter-type', 'all');
    const byOutcome = {} as ReportCheck['byOutcome'];
    for (const outcome of ['correct', 'wrong'] as const) {
      await page.selectOption('#filter-outcome', outcome);
      const shown = await page
        .locator('#trajectories details.traj')
        .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-outcome')));
      byOutcome[outcome] = { shown: shown.length, allOfOutcome: shown.every((value) => value === outcome) };
    }
    await page.selectOption('#filter-outcome', 'all');
    const searchesWithHits = await page
      .locator('#trajectories details.traj')
      .evaluateAll(
        (nodes) =>
          nodes.filter(
            (node) => node.querySelector('code.query') !== null && node.querySelector('ol.hits li') !== null,
          ).length,
      );
    const insertedSpans = await count('#trajectories mark.inserted');
    const evaluationRows = await count('#eval-table tbody tr');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: options.screenshot, fullPage: true });
    return {
      chartCanvases,
      chartsWithTicks,
      hoverStep,
      hoverValues,
      hoverRaw,
      unsmoothedValues,
      errors,
      trajectories,
      byType,
      byOutcome,
      searchesWithHits,
      insertedSpans,
      evaluationRows,
      chromium,
    };
  } finally {
    await browser.close();
  }
}
