// `sr1-train demo --cost-study`: issue #17's learning result in one command. The same base policy,
// the same known-fact worlds and the same seed, trained twice with GRPO — once without a search
// cost and once with one — and the two trained agents compared on the held-out world against the
// goal: EM within 0.02 of the run without the cost, ≥ 30 % fewer searches per question, and most
// of the searches spent on the unseen facts.

import { rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { EvalSummary } from '@sr1/eval';
import type { SearchCost } from '@sr1/reward';
import { type DemoOptions, type DemoResult, runDemo, searchCostLabel } from './demo.js';
import { writeReport } from './report.js';

/** The goal of the search-cost experiment (issue #17, part 5). */
export const COST_STUDY_GOAL = {
  /** The run with the cost may lose at most this much held-out EM against the run without. */
  maxEmLoss: 0.02,
  /** …while making at least this share fewer searches per question. */
  minSearchCut: 0.3,
} as const;

/** The two sub-runs of a cost study, under its --out folder. */
export const COST_STUDY_RUNS = { noCost: 'no-cost', withCost: 'with-cost' } as const;

export interface CostStudyVerdict {
  /** Held-out EM of the run with the cost minus that of the run without (negative: a loss). */
  emDelta: number;
  /** 1 − searches per question with the cost / without (0.53: 53 % fewer). */
  searchCut: number;
  /** The share of the cost run's held-out searches that were for unseen facts. */
  unseenShare: number;
  emHeld: boolean;
  searchesCut: boolean;
  mainlyUnseen: boolean;
  met: boolean;
}

/**
 * Compares the two trained agents' held-out summaries (question types 'known' and 'unseen') with
 * the goal. A difference of exactly the allowed EM loss counts as held (to 1e-9, for floating point).
 */
export function compareCostStudy(noCost: EvalSummary, withCost: EvalSummary): CostStudyVerdict {
  const emDelta = withCost.exactMatch - noCost.exactMatch;
  const searchCut =
    noCost.searchesPerQuestion === 0 ? 0 : 1 - withCost.searchesPerQuestion / noCost.searchesPerQuestion;
  const searchesOf = (type: string) => {
    const cell = withCost.byType[type];
    return cell === undefined ? 0 : cell.searchesPerQuestion * cell.count;
  };
  const unseen = searchesOf('unseen');
  const total = unseen + searchesOf('known');
  const unseenShare = total === 0 ? 0 : unseen / total;
  const emHeld = emDelta >= -COST_STUDY_GOAL.maxEmLoss - 1e-9;
  const searchesCut = searchCut >= COST_STUDY_GOAL.minSearchCut - 1e-9;
  const mainlyUnseen = unseenShare > 0.5;
  return {
    emDelta,
    searchCut,
    unseenShare,
    emHeld,
    searchesCut,
    mainlyUnseen,
    met: emHeld && searchesCut && mainlyUnseen,
  };
}

/** The comparison as Markdown: one row per trained agent, then the three checks. */
export function formatCostStudy(
  noCost: EvalSummary,
  withCost: EvalSummary,
  cost: SearchCost,
  verdict: CostStudyVerdict,
): string {
  const cell = (summary: EvalSummary, type: string, pick: 'exactMatch' | 'searchesPerQuestion') =>
    summary.byType[type]?.[pick];
  const row = (label: string, s: EvalSummary) =>
    `| ${label} | ${cell(s, 'known', 'exactMatch')?.toFixed(3) ?? '—'} | ${cell(s, 'unseen', 'exactMatch')?.toFixed(3) ?? '—'} | ${s.exactMatch.toFixed(3)} | ${cell(s, 'known', 'searchesPerQuestion')?.toFixed(2) ?? '—'} | ${cell(s, 'unseen', 'searchesPerQuestion')?.toFixed(2) ?? '—'} | ${s.searchesPerQuestion.toFixed(2)} |`;
  const mark = (ok: boolean) => (ok ? 'met' : 'NOT met');
  return [
    '| trained agent | known EM | unseen EM | all EM | known searches/q | unseen searches/q | all searches/q |',
    '|---|---|---|---|---|---|---|',
    row('no cost', noCost),
    row(searchCostLabel(cost), withCost),
    '',
    `EM with the cost − without: ${verdict.emDelta >= 0 ? '+' : ''}${verdict.emDelta.toFixed(3)} (goal: ≥ −${COST_STUDY_GOAL.maxEmLoss}): ${mark(verdict.emHeld)}`,
    `searches per question: ${(verdict.searchCut * 100).toFixed(0)} % fewer (goal: ≥ ${COST_STUDY_GOAL.minSearchCut * 100} %): ${mark(verdict.searchesCut)}`,
    `share of the searches spent on unseen facts: ${(verdict.unseenShare * 100).toFixed(0)} % (goal: most): ${mark(verdict.mainlyUnseen)}`,
    `goal: ${verdict.met ? 'met' : 'NOT met'}`,
  ].join('\n');
}

export interface CostStudyOptions extends Omit<DemoOptions, 'knownFacts' | 'searchCost' | 'out'> {
  out: string;
  /** The cost of the second run (not 'none'). */
  searchCost: Exclude<SearchCost, { kind: 'none' }>;
}

export interface CostStudyResult {
  noCost: DemoResult;
  withCost: DemoResult;
  verdict: CostStudyVerdict;
}

/**
 * Runs the known-fact demo twice under `out` (no-cost/, with-cost/; each resumes like the demo; the
 * second reuses the first's evaluation of the base),
 * then prints the comparison and writes it to cost-study.json, with one report over both runs.
 */
export async function runCostStudy(options: CostStudyOptions): Promise<CostStudyResult> {
  const out = resolve(options.out);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const { searchCost, ...shared } = options;
  const noCost = await runDemo({ ...shared, knownFacts: true, out: join(out, COST_STUDY_RUNS.noCost) });
  log('');
  const withCost = await runDemo({
    ...shared,
    knownFacts: true,
    searchCost,
    out: join(out, COST_STUDY_RUNS.withCost),
    // The same base, worlds and engine: its held-out evaluation is the first run's.
    baseRecords: noCost.baseRecords,
  });
  const verdict = compareCostStudy(noCost.trained, withCost.trained);
  // Written beside and renamed in: a killed study never leaves a half-written comparison.
  const file = join(out, 'cost-study.json');
  const record = {
    basePolicy: options.basePolicy,
    steps: options.steps,
    seed: options.seed ?? 1,
    searchCost,
    algorithm: options.algorithm ?? 'grpo',
    ...((options.algorithm ?? 'grpo') === 'grpo'
      ? { grpoNormalizeByStd: options.grpoNormalizeByStd ?? true }
      : {}),
    maskRetrievedTokens: options.maskRetrievedTokens ?? true,
    goal: COST_STUDY_GOAL,
    noCost: noCost.trained,
    withCost: withCost.trained,
    verdict,
  };
  await writeFile(`${file}.tmp-${process.pid}`, `${JSON.stringify(record, null, 2)}\n`);
  await rename(`${file}.tmp-${process.pid}`, file);
  const report = await writeReport({
    runDirs: [join(out, COST_STUDY_RUNS.noCost), join(out, COST_STUDY_RUNS.withCost)],
    out: join(out, 'report.html'),
    title: `sr1 cost study: no cost vs ${searchCostLabel(searchCost)}`,
  });
  log('');
  log(
    `cost study, held-out world (known and unseen facts), greedy decoding; base ${options.basePolicy}, ${options.steps} steps, seed ${options.seed ?? 1}:`,
  );
  log(formatCostStudy(noCost.trained, withCost.trained, searchCost, verdict));
  log(`report over both runs: ${report}`);
  return { noCost, withCost, verdict };
}
