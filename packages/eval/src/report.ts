// The paper-style results table (Search-R1 Table 3: EM per dataset and the unweighted average over
// datasets, one row per method) as data, markdown, JSON and a small self-contained HTML page.

import type { EvalMethod, EvalRecord } from './methods.js';

/** One cell: mean scores over the questions of a (method, dataset). */
export interface ResultCell {
  count: number;
  exactMatch: number;
  substringMatch: number;
  f1: number;
  /** Mean searches per question (the agent's; 0 for the others). */
  searches: number;
  /** Share of questions with an `<answer>` at all. */
  answered: number;
}

/** A method's row: a cell per dataset and the mean EM over datasets. */
export interface ResultRow {
  method: EvalMethod;
  cells: Record<string, ResultCell>;
  /** Unweighted mean of the datasets' EM, as the paper's "Avg." column. */
  averageExactMatch: number;
}

export interface ResultsTable {
  datasets: string[];
  rows: ResultRow[];
}

/** One method's mean EM and searches per question, overall and per question type. */
export interface EvalSummary {
  method: EvalMethod;
  count: number;
  exactMatch: number;
  searchesPerQuestion: number;
  /** Per question type, sorted by name; untyped questions count as 'all'. */
  byType: Record<string, { count: number; exactMatch: number; searchesPerQuestion: number }>;
}

/**
 * Summarises one method's records by question type (the toy world's single-hop / two-hop /
 * comparison): the trainer's validation metrics and its demo's table.
 */
export function summarizeByType(method: EvalMethod, records: readonly EvalRecord[]): EvalSummary {
  const mean = (list: readonly EvalRecord[], pick: (r: EvalRecord) => number) =>
    list.length === 0 ? 0 : list.reduce((sum, r) => sum + pick(r), 0) / list.length;
  const typeOf = (record: EvalRecord) => record.type ?? 'all';
  const byType: EvalSummary['byType'] = {};
  for (const type of [...new Set(records.map(typeOf))].sort()) {
    const list = records.filter((r) => typeOf(r) === type);
    byType[type] = {
      count: list.length,
      exactMatch: mean(list, (r) => r.exactMatch),
      searchesPerQuestion: mean(list, (r) => r.searches.length),
    };
  }
  return {
    method,
    count: records.length,
    exactMatch: mean(records, (r) => r.exactMatch),
    searchesPerQuestion: mean(records, (r) => r.searches.length),
    byType,
  };
}

/** Builds the table from records; dataset and method order follow their first appearance. */
export function buildResultsTable(records: readonly EvalRecord[]): ResultsTable {
  const datasets = [...new Set(records.map((r) => r.dataset))];
  const methods = [...new Set(records.map((r) => r.method))];
  const rows = methods.map((method) => {
    const cells: Record<string, ResultCell> = {};
    for (const dataset of datasets) {
      const list = records.filter((r) => r.method === method && r.dataset === dataset);
      if (list.length === 0) continue;
      const mean = (pick: (r: EvalRecord) => number) =>
        list.reduce((sum, r) => sum + pick(r), 0) / list.length;
      cells[dataset] = {
        count: list.length,
        exactMatch: mean((r) => r.exactMatch),
        substringMatch: mean((r) => r.substringMatch),
        f1: mean((r) => r.f1),
        searches: mean((r) => r.searches.length),
        answered: mean((r) => (r.answer === null ? 0 : 1)),
      };
    }
    const present = Object.values(cells);
    const averageExactMatch =
      present.length === 0 ? 0 : present.reduce((sum, cell) => sum + cell.exactMatch, 0) / present.length;
    return { method, cells, averageExactMatch };
  });
  return { datasets, rows };
}

const fixed3 = (value: number) => value.toFixed(3);

/** EM per dataset and the average, as a markdown table (values to 3 decimals, like the paper). */
export function renderMarkdown(table: ResultsTable): string {
  const header = `| method | ${table.datasets.join(' | ')} | avg |`;
  const rule = `|---|${table.datasets.map(() => '---:').join('|')}|---:|`;
  const rows = table.rows.map(
    (row) =>
      `| ${row.method} | ${table.datasets
        .map((dataset) => {
          const cell = row.cells[dataset];
          return cell === undefined ? '-' : fixed3(cell.exactMatch);
        })
        .join(' | ')} | ${fixed3(row.averageExactMatch)} |`,
  );
  const counts = table.datasets.map((dataset) => {
    const count = table.rows.map((row) => row.cells[dataset]?.count ?? 0);
    return `${dataset} ${Math.max(...count)}`;
  });
  return `${[header, rule, ...rows].join('\n')}\n\nQuestions per dataset: ${counts.join(', ')}. Exact match (SQuAD normalisation) of the generated \`<answer>\` action.\n`;
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

/** What the HTML page shows besides the table. */
export interface HtmlReportOptions {
  /** The evaluated records: each question is listed with its answer and the passages it rests on. */
  records?: readonly EvalRecord[];
  /** Most questions listed (the first ones, in record order). */
  maxQuestions?: number;
}

const HTML_DEFAULTS = {
  maxQuestions: 500, // a few MB of HTML at most; the results file has every record
} as const;

/** `file.md`, `file.pdf p. 2`, `file.jsonl line 7`: where an ingested passage came from. */
function sourceLocation(source: { path: string; page?: number; line?: number }): string {
  if (source.page !== undefined) return `${source.path} p. ${source.page}`;
  if (source.line !== undefined) return `${source.path} line ${source.line}`;
  return source.path;
}

/** Per question: the answer, its score, and the passages it rests on (✓ where one contains the answer). */
function questionsHtml(records: readonly EvalRecord[], maxQuestions: number): string {
  const shown = records.slice(0, maxQuestions);
  const items = shown.map((record) => {
    const sources = record.sources ?? []; // results files written before sources have none
    const list =
      sources.length === 0
        ? '<p class="muted">No passages.</p>'
        : `<ol>${sources
            .map((read) => {
              const where = read.source === undefined ? '' : ` — ${escapeHtml(sourceLocation(read.source))}`;
              const mark = read.containsAnswer ? ' <b title="contains the answer">✓</b>' : '';
              return `<li>${escapeHtml(read.title)}<span class="muted">${where} [${escapeHtml(read.id)}]</span>${mark}</li>`;
            })
            .join('')}</ol>`;
    const answer = record.answer === null ? '(none)' : record.answer;
    return `<li><p><b>${escapeHtml(record.question)}</b> <span class="muted">${escapeHtml(record.dataset)} · ${escapeHtml(record.method)}</span><br>answer: ${escapeHtml(answer)} · gold: ${escapeHtml(record.goldenAnswers.join(' / '))} · EM ${record.exactMatch}</p>${list}</li>`;
  });
  const more =
    records.length > shown.length
      ? `<p class="muted">First ${shown.length} of ${records.length} questions.</p>`
      : '';
  return `<h2>Questions and their sources</h2>\n${more}<ol class="questions">\n${items.join('\n')}\n</ol>\n`;
}

/**
 * A small standalone HTML page with the EM table and, per cell, F1, answer rate and searches;
 * with `records`, each question follows with its answer and the passages it rests on.
 */
export function renderHtml(
  table: ResultsTable,
  title = 'sr1 evaluation',
  options: HtmlReportOptions = {},
): string {
  const head = `<tr><th>method</th>${table.datasets.map((d) => `<th>${escapeHtml(d)}</th>`).join('')}<th>avg</th></tr>`;
  const body = table.rows
    .map((row) => {
      const cells = table.datasets
        .map((dataset) => {
          const cell = row.cells[dataset];
          if (cell === undefined) return '<td>-</td>';
          const tip = `n=${cell.count}, F1 ${fixed3(cell.f1)}, substring EM ${fixed3(cell.substringMatch)}, answered ${fixed3(cell.answered)}, searches/q ${cell.searches.toFixed(2)}`;
          return `<td title="${escapeHtml(tip)}">${fixed3(cell.exactMatch)}</td>`;
        })
        .join('');
      return `<tr><th>${escapeHtml(row.method)}</th>${cells}<td><b>${fixed3(row.averageExactMatch)}</b></td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}th:first-child{text-align:left}.muted{color:#666}.questions>li{margin-bottom:1em}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>Exact match (EM) per dataset; avg is the unweighted mean over datasets. Hover a cell for F1, substring EM, answer rate and searches per question.</p>
<table>
${head}
${body}
</table>
${options.records === undefined ? '' : questionsHtml(options.records, options.maxQuestions ?? HTML_DEFAULTS.maxQuestions)}</body></html>
`;
}
