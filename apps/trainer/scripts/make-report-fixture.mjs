#!/usr/bin/env node
// Copies a real demo run folder into a small report fixture: metrics, resolved config and the
// held-out table as they are, and the trajectories cut to a few per question type and outcome
// (those with searches first), so the browser test has every type, correct and wrong, and hits.
//   node apps/trainer/scripts/make-report-fixture.mjs runs/demo apps/trainer/src/report/__fixtures__/demo-masked

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [source, target, perCell = '2'] = process.argv.slice(2);
if (source === undefined || target === undefined) {
  console.error('usage: make-report-fixture.mjs DEMO_RUN_FOLDER FIXTURE_FOLDER [PER_TYPE_AND_OUTCOME]');
  process.exit(2);
}
mkdirSync(join(target, 'rl-run'), { recursive: true });
for (const file of ['rl-run/metrics.jsonl', 'rl-run/config.resolved.json', 'results.json']) {
  copyFileSync(join(source, file), join(target, file));
}
const trajectories = readFileSync(join(source, 'trajectories.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((line) => JSON.parse(line));
const kept = [];
for (const type of [...new Set(trajectories.map((t) => t.type))]) {
  for (const correct of [1, 0]) {
    const cell = trajectories
      .filter((t) => t.type === type && t.exactMatch === correct)
      .sort((a, b) => Math.min(b.searches.length, 1) - Math.min(a.searches.length, 1));
    kept.push(...cell.slice(0, Number(perCell)));
  }
}
kept.sort((a, b) => trajectories.indexOf(a) - trajectories.indexOf(b));
writeFileSync(join(target, 'trajectories.jsonl'), `${kept.map((t) => JSON.stringify(t)).join('\n')}\n`);
console.log(`${target}: ${kept.length} of ${trajectories.length} trajectories`);
