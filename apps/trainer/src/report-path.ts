// Where `npm run check:report -w sr1-trainer [-- FILE]` looks for a report. npm runs a workspace
// script in the workspace's folder (apps/trainer), but the demo writes runs/demo under the folder
// `npm run demo` was typed in (the repository root): so a relative path is taken from INIT_CWD,
// the folder the user typed the command in, and the default also from the repository root.

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The demo's report, relative to where `npm run demo` ran. */
export const DEMO_REPORT = 'runs/demo/report.html';

/**
 * The report to check: `argument` resolved against `initCwd` (npm's INIT_CWD, else the current
 * folder); without an argument, the demo's report under `initCwd`, else under `repoRoot`.
 * Returns the first that exists (or the first candidate) and every candidate tried.
 */
export function locateReport(
  argument: string | undefined,
  options: { initCwd: string; repoRoot: string },
): { file: string; tried: string[] } {
  const tried =
    argument !== undefined
      ? [resolve(options.initCwd, argument)]
      : [...new Set([resolve(options.initCwd, DEMO_REPORT), join(resolve(options.repoRoot), DEMO_REPORT)])];
  return { file: tried.find((file) => existsSync(file)) ?? tried[0]!, tried };
}
