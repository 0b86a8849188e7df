// Which charts a report draws: every numeric metric the runs logged, the key curves first, and
// none for a metric that is flat in every run (a clip fraction of 1e-9 throughout says nothing
// a chart could show; it is listed in a note instead).

import type { ReportRun } from './run-data.js';

/** The key curves, drawn first, in this order: metric key → caption. */
export const CURVES: Record<string, string> = {
  'reward/mean': 'reward (mean)',
  'rollout/exact_match': 'exact match of rollouts',
  'val/exact_match': 'validation EM (greedy)',
  'rollout/searches_per_question': 'searches per question',
  'val/searches_per_question': 'validation searches per question',
  'response_length/mean': 'response length (tokens)',
  'actor/kl_loss': 'KL to the reference (loss term)',
  'critic/kl': 'KL to the reference (in the reward)',
  'critic/vf_loss': 'value loss (PPO critic)',
  'actor/pg_clipfrac': 'clip fraction',
  'actor/entropy': 'policy entropy',
  loss: 'training loss (SFT)',
  gradNorm: 'gradient norm (SFT, before clipping)',
  tokensPerSecond: 'training tokens / s (SFT)',
};

/** Below this magnitude throughout, a metric is numerical noise around zero. */
export const NEAR_ZERO = 1e-6; // float32 round-off of an exactly-zero quantity lands around 1e-9
/** A metric whose spread is below this fraction of its size is constant. */
export const CONSTANT_SPREAD = 1e-9; // far below any change a chart could show

/** A series with at most this many points is drawn as points, without smoothing. */
export const SPARSE_POINTS = 12; // validation every N steps: a handful of points that an EMA would blur

export interface ChartPlan {
  key: string;
  caption: string;
  /** One of the key curves (drawn open), or one of the other metrics (folded). */
  main: boolean;
  /** Few points in every run: drawn as points, not smoothed. */
  sparse: boolean;
}

export interface FlatMetric {
  key: string;
  caption: string;
  /** Why it is not drawn, e.g. "|x| ≤ 1e-6 throughout (max 2.1e-9)". */
  note: string;
}

export interface ReportPlan {
  charts: ChartPlan[];
  flat: FlatMetric[];
}

const NOT_CHARTED = new Set(['step', 'epoch']);

/** The charts of a report over `runs`; metrics flat in every run go to `flat` with a note. */
export function planCharts(runs: readonly ReportRun[]): ReportPlan {
  const values = new Map<string, number[][]>();
  runs.forEach((run, index) => {
    for (const record of run.metrics) {
      if (typeof record.step !== 'number') continue;
      for (const [key, value] of Object.entries(record)) {
        if (NOT_CHARTED.has(key) || typeof value !== 'number' || !Number.isFinite(value)) continue;
        let perRun = values.get(key);
        if (perRun === undefined) {
          perRun = runs.map(() => []);
          values.set(key, perRun);
        }
        perRun[index]!.push(value);
      }
    }
  });
  const main = Object.keys(CURVES);
  const keys = [...values.keys()].sort((a, b) => {
    const [ia, ib] = [main.indexOf(a), main.indexOf(b)];
    if (ia >= 0 || ib >= 0) return (ia < 0 ? main.length : ia) - (ib < 0 ? main.length : ib);
    return a.localeCompare(b);
  });
  const plan: ReportPlan = { charts: [], flat: [] };
  for (const key of keys) {
    const perRun = values.get(key)!;
    const caption = CURVES[key] ?? key;
    const note = flatNote(perRun.flat());
    if (note !== null) plan.flat.push({ key, caption, note });
    else {
      plan.charts.push({
        key,
        caption,
        main: key in CURVES,
        sparse: perRun.every((list) => list.length <= SPARSE_POINTS),
      });
    }
  }
  return plan;
}

/** Why a metric is not worth a chart, or null when it is. */
export function flatNote(values: readonly number[]): string | null {
  if (values.length === 0) return null;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let largest = 0;
  for (const value of values) {
    min = Math.min(min, value);
    max = Math.max(max, value);
    largest = Math.max(largest, Math.abs(value));
  }
  if (largest <= NEAR_ZERO) {
    return largest === 0
      ? '0 throughout'
      : `|x| ≤ ${NEAR_ZERO.toExponential(0)} throughout (max ${largest.toExponential(1)})`;
  }
  if (max - min <= CONSTANT_SPREAD * largest) return `constant at ${Number(max.toPrecision(6))}`;
  return null;
}
