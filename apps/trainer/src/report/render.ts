// The report as one self-contained HTML file: uPlot's script and stylesheet (read from
// node_modules when the report is written), the runs' data as JSON, and the page's own script.
// Opened from disk it needs nothing else; served by the dashboard it polls data.json for more.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { CLIENT_SCRIPT } from './client.js';
import { planCharts, type ReportPlan } from './plan.js';
import type { ReportRun } from './run-data.js';

export interface ReportInput {
  title: string;
  /** Paragraphs under the title. */
  notes?: string[];
  runs: ReportRun[];
  /** Set on the live dashboard: the page polls `data.json` every `pollMs`. */
  live?: { pollMs: number };
}

/** The JSON the page draws from (embedded in the page, and served as data.json by the dashboard). */
export interface ReportData {
  runs: ReportRun[];
  plan: ReportPlan;
  live?: { pollMs: number };
}

export function reportData(runs: ReportRun[], live?: { pollMs: number }): ReportData {
  return { runs, plan: planCharts(runs), ...(live !== undefined ? { live } : {}) };
}

let uplotAssets: { script: string; style: string } | undefined;

/** uPlot's minified script and stylesheet, from the installed package (read once). */
export function uplotSources(): { script: string; style: string } {
  if (uplotAssets === undefined) {
    const require = createRequire(import.meta.url);
    uplotAssets = {
      script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
      style: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    };
  }
  return uplotAssets;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON that is safe inside a <script> element: no `</script>`, no `<!--`. */
export const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/** A script's source that cannot close its own <script> element early. */
const inlineScript = (source: string) => source.replace(/<\/(script)/gi, '<\\/$1');

const STYLE = `
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 1.5rem 2rem; color: #1f2328; }
h1 { margin-bottom: 0.3rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; }
.muted { color: #656d76; } .empty { color: #656d76; font-style: italic; }
#live-status { float: right; font-size: 0.9rem; color: #1a7f37; } #live-status.ended { color: #9a6700; }
ul#runs { list-style: none; padding: 0; } ul#runs li { margin: 0.2rem 0; }
.swatch { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; margin-right: 0.4rem; vertical-align: -1px; }
.controls { display: flex; gap: 1.5rem; align-items: center; flex-wrap: wrap; margin: 0.6rem 0; }
.controls label { font-size: 0.95rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-variant-numeric: tabular-nums; }
td, th { border: 1px solid #d0d7de; padding: 0.3rem 0.7rem; text-align: right; }
td.text, th.text { text-align: left; }
th { background: #f6f8fa; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(400px, 1fr)); gap: 1rem 1.2rem; }
.chart { min-width: 0; } .uplot .u-title { font-size: 0.95rem; font-weight: 600; }
.readout { font-size: 0.82rem; display: flex; flex-wrap: wrap; gap: 0.2rem 0.9rem; justify-content: center; min-height: 1.2rem; }
.readout .rv-step { color: #656d76; font-variant-numeric: tabular-nums; } .readout b { font-variant-numeric: tabular-nums; }
#flat-metrics { font-size: 0.9rem; color: #656d76; }
details.traj { border: 1px solid #d0d7de; border-radius: 6px; margin: 0.4rem 0; padding: 0.3rem 0.7rem; }
details.traj > summary { cursor: pointer; }
.badge { font-size: 0.8rem; font-weight: 600; border-radius: 1rem; padding: 0.05rem 0.5rem; margin-right: 0.4rem; }
.badge.ok { background: #dafbe1; color: #1a7f37; } .badge.bad { background: #ffebe9; color: #cf222e; }
.tag { font-size: 0.8rem; background: #ddf4ff; color: #0969da; border-radius: 1rem; padding: 0.05rem 0.5rem; margin-right: 0.4rem; }
ol.searches { margin: 0.5rem 0; } ol.searches > li { margin: 0.3rem 0; }
code.query { background: #fff8c5; padding: 0.05rem 0.3rem; border-radius: 3px; }
ol.hits { margin: 0.2rem 0; font-size: 0.9rem; } .score { color: #656d76; font-variant-numeric: tabular-nums; }
pre.trajectory { white-space: pre-wrap; background: #f6f8fa; padding: 0.8rem; border-radius: 6px; }
mark.inserted { background: #fff3b0; color: #57606a; }
`;

export function renderReport(input: ReportInput): string {
  const { script, style } = uplotSources();
  const data = reportData(input.runs, input.live);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(input.title)}</title>
<style>${style}</style>
<style>${STYLE}</style>
</head><body>
${input.live !== undefined ? '<span id="live-status">live</span>' : ''}
<h1>${escapeHtml(input.title)}</h1>
${(input.notes ?? []).map((note) => `<p>${escapeHtml(note)}</p>`).join('\n')}
<ul id="runs"></ul>
<section id="evaluation"><h2>Held-out evaluation</h2><table id="eval-table"></table></section>
<h2>Learning curves</h2>
<div class="controls">
<label>smoothing (EMA) <input id="smoothing" type="range" min="0" max="0.99" step="0.01"> <span id="smoothing-value"></span></label>
<span class="muted">faint: raw values; bold: smoothed. Hover a chart for the values at a step.</span>
</div>
<div id="charts-main" class="charts"></div>
<p id="flat-metrics"></p>
<details id="other-metrics"><summary>Other metrics (<span id="other-count">0</span>)</summary><div id="charts-other" class="charts"></div></details>
<h2>Trajectories</h2>
<div class="controls">
<label hidden>run <select id="filter-run"></select></label>
<label>type <select id="filter-type"></select></label>
<label>outcome <select id="filter-outcome"><option value="all">correct and wrong</option><option value="correct">correct</option><option value="wrong">wrong</option></select></label>
<span id="traj-count" class="muted"></span>
</div>
<p class="muted"><mark class="inserted">Highlighted</mark> text was inserted by the system (retrieved passages, invalid-action messages): mask 0, excluded from the policy loss.</p>
<div id="trajectories"></div>
<script id="report-data" type="application/json">${scriptJson(data)}</script>
<script>${inlineScript(script)}</script>
<script>${inlineScript(CLIENT_SCRIPT)}</script>
</body></html>
`;
}
