// The training report: one self-contained HTML page over one or more run folders — learning curves
// drawn with uPlot (raw and smoothed, runs overlaid), the held-out table, and a trajectory viewer
// (filter by question type and outcome, each search's query and hits, loss-masked tokens
// highlighted). `sr1-train report` writes it; `--dashboard PORT` serves it live during a run.

import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { renderReport } from './report/render.js';
import { loadRuns } from './report/run-data.js';

export type { ReportCheck } from './report/browser-check.js';
export { ChromiumMissingError, checkReportInBrowser, findChromium } from './report/browser-check.js';
export type { Dashboard, DashboardOptions } from './report/dashboard.js';
export { DASHBOARD_POLL_MS, startDashboard, withDashboard } from './report/dashboard.js';
export type { ChartPlan, FlatMetric, ReportPlan } from './report/plan.js';
export { CURVES, flatNote, planCharts } from './report/plan.js';
export type { ReportData, ReportInput } from './report/render.js';
export { renderReport, reportData } from './report/render.js';
export type { ReportRun, ReportSearch, ReportTrajectory } from './report/run-data.js';
export {
  loadRun,
  loadRuns,
  maskedSegments,
  RUN_FILES,
  reportTrajectory,
  writeTrajectories,
} from './report/run-data.js';

export interface WriteReportOptions {
  /** Run folders (`sr1-train sft|rl` output folders or demo folders), overlaid in this order. */
  runDirs: string[];
  /** The HTML file to write. */
  out: string;
  title?: string;
  notes?: string[];
}

/** Reads the run folders and writes the report; returns the file's absolute path. */
export async function writeReport(options: WriteReportOptions): Promise<string> {
  const runs = await loadRuns(options.runDirs);
  const title =
    options.title ??
    (runs.length === 1
      ? `sr1 run: ${runs[0]!.label}`
      : `sr1 runs: ${runs.map((run) => run.label).join(' vs ')}`);
  const file = resolve(options.out);
  await mkdir(dirname(file), { recursive: true });
  // Written beside and renamed in, so a killed run never leaves a half-written page (the live
  // dashboard and a browser may be reading the previous one).
  const temporary = `${file}.tmp-${process.pid}`;
  await writeFile(temporary, renderReport({ title, notes: options.notes ?? [], runs }));
  await rename(temporary, file);
  return file;
}
