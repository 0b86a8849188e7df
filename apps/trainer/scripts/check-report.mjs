#!/usr/bin/env node
// Renders a report (default runs/demo/report.html) in headless Chromium and checks what a reader
// sees: the evaluation table, the uPlot charts drawn with their axes and hover values, no script
// errors, the trajectory viewer's type and outcome filters, searches with their hits, and the
// highlighted inserted tokens. Writes a full-page screenshot next to the report.
// Chromium is not an npm dependency: `apt-get update && apt-get install -y chromium` (Debian), or set CHROMIUM.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkReportInBrowser, findChromium, locateReport } from '../dist/index.js';

// npm runs this in apps/trainer; a relative path means the folder the command was typed in.
const { file: report, tried } = locateReport(process.argv[2], {
  initCwd: process.env.INIT_CWD ?? process.cwd(),
  repoRoot: fileURLToPath(new URL('../../../', import.meta.url)),
});
if (!existsSync(report)) {
  console.error(`check-report: no report at ${tried.join(' or ')}; run \`npm run demo\` first`);
  process.exit(2);
}
let chromium;
try {
  chromium = findChromium();
} catch (error) {
  console.error(`check-report: ${error.message}`);
  process.exit(2);
}
const screenshot = join(dirname(report), 'report.png');
const check = await checkReportInBrowser(report, { screenshot, timeoutMs: 120_000 });
const typeCounts = Object.entries(check.byType).map(([type, { shown }]) => `${type} ${shown}`);
const checks = {
  'evaluation table rows': [check.evaluationRows, check.evaluationRows >= 1],
  'charts drawn (canvas)': [check.chartCanvases, check.chartCanvases >= 1],
  'charts with both axes': [check.chartsWithTicks, check.chartsWithTicks === check.chartCanvases],
  'hover readout': [`${check.hoverStep}: ${check.hoverValues.join(', ')}`, /^step \d/.test(check.hoverStep)],
  'script errors': [check.errors.length, check.errors.length === 0],
  trajectories: [check.trajectories, check.trajectories >= 1],
  'type filter': [
    typeCounts.join(', '),
    Object.values(check.byType).every(({ shown, allOfType }) => shown > 0 && allOfType),
  ],
  'outcome filter': [
    `correct ${check.byOutcome.correct.shown}, wrong ${check.byOutcome.wrong.shown}`,
    check.byOutcome.correct.allOfOutcome &&
      check.byOutcome.wrong.allOfOutcome &&
      check.byOutcome.correct.shown + check.byOutcome.wrong.shown === check.trajectories,
  ],
  'trajectories with searches and hits': [check.searchesWithHits, true],
  'highlighted inserted spans': [check.insertedSpans, true],
};
for (const [what, [value, ok]] of Object.entries(checks))
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}: ${value}`);
for (const error of check.errors) console.error(`  script error: ${error}`);
console.log(`screenshot: ${screenshot}${existsSync(screenshot) ? '' : ' (NOT written)'}`);
const failed = Object.entries(checks).filter(([, [, ok]]) => !ok);
if (failed.length > 0 || !existsSync(screenshot)) {
  console.error(`check-report: failed: ${failed.map(([what]) => what).join(', ') || 'screenshot'}`);
  process.exit(1);
}
console.log(`check-report: ${chromium} rendered ${report}`);
