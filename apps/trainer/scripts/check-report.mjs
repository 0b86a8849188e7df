#!/usr/bin/env node
// Renders a demo report (default runs/demo/report.html) in headless Chromium and checks what a
// reader sees: the evaluation table, the learning curves as drawn SVG paths, and trajectories
// with highlighted inserted tokens. Writes a full-page screenshot next to the report.
// Chromium is not a project dependency: `apt-get install chromium` (Debian) or set CHROMIUM.

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const report = resolve(process.argv[2] ?? 'runs/demo/report.html');
const candidates = [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
const chromium = candidates.find((path) => existsSync(path));
if (chromium === undefined) {
  console.error(
    `check-report: no Chromium found (tried ${candidates.join(', ')}); set CHROMIUM or apt-get install chromium`,
  );
  process.exit(2);
}
if (!existsSync(report)) {
  console.error(`check-report: ${report} does not exist; run \`npm run demo\` first`);
  process.exit(2);
}
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars'];
const url = pathToFileURL(report).href;
const dom = execFileSync(chromium, [...flags, '--dump-dom', url], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
});
const screenshot = join(dirname(report), 'report.png');
execFileSync(chromium, [...flags, '--window-size=1280,2400', `--screenshot=${screenshot}`, url], {
  stdio: 'ignore',
});
const count = (pattern) => (dom.match(pattern) ?? []).length;
const checks = {
  'evaluation table rows': count(/<tr>/g) - 1,
  'learning curves (svg paths)': count(/<path d="M/g),
  trajectories: count(/<details[ >]/g),
  'highlighted inserted spans': count(/<mark class="inserted">/g),
};
for (const [what, n] of Object.entries(checks)) console.log(`${what}: ${n}`);
console.log(`screenshot: ${screenshot}${existsSync(screenshot) ? '' : ' (NOT written)'}`);
const failed = Object.entries(checks).filter(([, n]) => n < 1);
if (failed.length > 0 || !existsSync(screenshot)) {
  console.error(
    `check-report: missing in the rendered page: ${failed.map(([what]) => what).join(', ') || 'screenshot'}`,
  );
  process.exit(1);
}
console.log(`check-report: ${chromium} rendered ${report}`);
