// The run's HTML report: learning curves drawn as inline SVG from metrics.jsonl, the evaluation
// table, and a trajectory viewer where tokens inserted by the system (retrieved passages, the
// invalid-action text — mask 0, excluded from the policy loss) are highlighted.

import type { EvalSummary } from './agent-eval.js';

export interface ReportTrajectory {
  id: string;
  question: string;
  gold: string[];
  exactMatch: number;
  /** Consecutive pieces of the response: generated (mask 1) or inserted (mask 0). */
  segments: { text: string; inserted: boolean }[];
}

export interface ReportInput {
  title: string;
  metrics: Record<string, number>[];
  summaries: { label: string; summary: EvalSummary }[];
  trajectories: ReportTrajectory[];
  notes: string[];
}

/** The curves the report draws: metric key → caption. */
export const CURVES: Record<string, string> = {
  'reward/mean': 'reward (mean)',
  'rollout/exact_match': 'exact match of rollouts',
  'rollout/searches_per_question': 'searches per question',
  'response_length/mean': 'response length (tokens)',
  'actor/kl_loss': 'KL to the reference (loss term)',
  'critic/kl': 'KL to the reference (in the reward)',
  'critic/vf_loss': 'value loss (PPO critic)',
  'actor/pg_clipfrac': 'clip fraction',
  'val/exact_match': 'validation EM (greedy)',
};

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function curve(metrics: readonly Record<string, number>[], key: string, caption: string): string {
  const points = metrics
    .filter((m) => typeof m[key] === 'number' && Number.isFinite(m[key]) && typeof m.step === 'number')
    .map((m) => [m.step!, m[key]!] as const);
  if (points.length === 0) return '';
  const width = 320;
  const height = 160;
  const pad = 30;
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  const [y0, y1] = [Math.min(...ys, 0), Math.max(...ys, Math.min(...ys, 0) + 1e-9)];
  const px = (x: number) => pad + ((x - x0) / (x1 - x0)) * (width - 2 * pad);
  const py = (y: number) => height - pad - ((y - y0) / (y1 - y0)) * (height - 2 * pad);
  const path = points
    .map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`)
    .join(' ');
  return `<figure><svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(caption)}">
<line x1="${pad}" y1="${height - pad}" x2="${width - pad}" y2="${height - pad}" stroke="#999"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${height - pad}" stroke="#999"/>
<text x="${pad}" y="${height - 8}" font-size="10">${x0}</text><text x="${width - pad}" y="${height - 8}" font-size="10" text-anchor="end">${x1}</text>
<text x="2" y="${pad}" font-size="10">${y1.toPrecision(3)}</text><text x="2" y="${height - pad}" font-size="10">${y0.toPrecision(3)}</text>
<path d="${path}" fill="none" stroke="#1f6feb" stroke-width="2"/>
</svg><figcaption>${escapeHtml(caption)} (x: step)</figcaption></figure>`;
}

function table(summaries: ReportInput['summaries']): string {
  const types = [...new Set(summaries.flatMap((s) => Object.keys(s.summary.byType)))].sort();
  const head = `<tr><th>method</th>${types.map((t) => `<th>${escapeHtml(t)} EM</th>`).join('')}<th>all EM</th><th>searches / question</th></tr>`;
  const rows = summaries
    .map(
      ({ label, summary }) =>
        `<tr><td>${escapeHtml(label)}</td>${types
          .map((t) => `<td>${summary.byType[t]?.exactMatch.toFixed(3) ?? '—'}</td>`)
          .join(
            '',
          )}<td>${summary.exactMatch.toFixed(3)}</td><td>${summary.searchesPerQuestion.toFixed(2)}</td></tr>`,
    )
    .join('\n');
  return `<table>${head}\n${rows}</table>`;
}

export function renderReport(input: ReportInput): string {
  const curves = Object.entries(CURVES)
    .map(([key, caption]) => curve(input.metrics, key, caption))
    .join('\n');
  const trajectories = input.trajectories
    .map(
      (
        t,
        index,
      ) => `<details${index < 3 ? ' open' : ''}><summary>${t.exactMatch === 1 ? '✔' : '✘'} ${escapeHtml(t.question)} — gold: ${escapeHtml(t.gold.join(' / '))}</summary>
<pre class="trajectory">${t.segments.map((s) => (s.inserted ? `<mark class="inserted">${escapeHtml(s.text)}</mark>` : escapeHtml(s.text))).join('')}</pre></details>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 72rem; }
table { border-collapse: collapse; margin: 1rem 0; } td, th { border: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.curves { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; }
pre.trajectory { white-space: pre-wrap; background: #f6f8fa; padding: 0.8rem; }
mark.inserted { background: #fff3b0; color: #555; }
</style></head><body>
<h1>${escapeHtml(input.title)}</h1>
${input.notes.map((note) => `<p>${escapeHtml(note)}</p>`).join('\n')}
<h2>Held-out evaluation</h2>
${table(input.summaries)}
<h2>Learning curves</h2>
<div class="curves">${curves}</div>
<h2>Trajectories</h2>
<p><mark class="inserted">Highlighted</mark> text was inserted by the system (retrieved passages, invalid-action messages): mask 0, excluded from the policy loss.</p>
${trajectories}
</body></html>
`;
}

/** Splits a trajectory's tokens into generated / inserted runs, decoding each run. */
export function maskedSegments(
  tokenIds: readonly number[],
  mask: ArrayLike<number>,
  decode: (ids: readonly number[]) => string,
): { text: string; inserted: boolean }[] {
  const segments: { text: string; inserted: boolean }[] = [];
  let start = 0;
  for (let i = 1; i <= tokenIds.length; i++) {
    if (i === tokenIds.length || mask[i] !== mask[start]) {
      segments.push({ text: decode(tokenIds.slice(start, i)), inserted: mask[start] === 0 });
      start = i;
    }
  }
  return segments;
}
