// Which charts the report draws: key curves first, no chart for a metric flat in every run.

import { describe, expect, it } from 'vitest';
import { flatNote, planCharts, SPARSE_POINTS } from './plan.js';
import type { ReportRun } from './run-data.js';

const run = (label: string, metrics: Record<string, number>[]): ReportRun => ({
  label,
  dir: `/runs/${label}`,
  description: '',
  metrics,
  summaries: [],
  trajectories: [],
});

describe('flatNote', () => {
  it('calls float32 noise around zero flat, and says how small it is', () => {
    expect(flatNote([1e-9, 3e-9, 0, 2.1e-9])).toBe('|x| ≤ 1e-6 throughout (max 3.0e-9)');
    expect(flatNote([0, 0, 0])).toBe('0 throughout');
  });

  it('calls a constant flat and a changing metric not', () => {
    expect(flatNote([0.25, 0.25, 0.25])).toBe('constant at 0.25');
    expect(flatNote([0.25, 0.26])).toBeNull();
    expect(flatNote([1e-9, 0.01])).toBeNull();
  });
});

describe('planCharts', () => {
  const steps = (count: number, value: (step: number) => Record<string, number>) =>
    Array.from({ length: count }, (_, i) => ({ step: i + 1, ...value(i + 1) }));

  it('draws the key curves first, folds the rest, and leaves out what is flat in every run', () => {
    const plan = planCharts([
      run(
        'a',
        steps(20, (s) => ({
          'timing/step_s': 1 + s / 10,
          'actor/pg_clipfrac': 1e-9 * s,
          'reward/mean': s / 20,
          lr: 1e-5,
        })),
      ),
    ]);
    expect(plan.charts.map((chart) => [chart.key, chart.main])).toEqual([
      ['reward/mean', true],
      ['timing/step_s', false],
    ]);
    expect(plan.flat.map((metric) => metric.key)).toEqual(['actor/pg_clipfrac', 'lr']);
    expect(plan.flat[0]!.caption).toBe('clip fraction');
  });

  it('draws a metric that is flat in one run but moves in another', () => {
    const plan = planCharts([
      run(
        'masked',
        steps(20, () => ({ 'actor/pg_clipfrac': 0 })),
      ),
      run(
        'unmasked',
        steps(20, (s) => ({ 'actor/pg_clipfrac': s / 100 })),
      ),
    ]);
    expect(plan.charts.map((chart) => chart.key)).toEqual(['actor/pg_clipfrac']);
    expect(plan.flat).toEqual([]);
  });

  it('marks validation curves with a handful of points as sparse (points, no smoothing)', () => {
    const metrics = [
      ...steps(SPARSE_POINTS + 5, (s) => ({ 'reward/mean': s })),
      ...[0, 5, 10].map((step) => ({ step, 'val/exact_match': step / 10 })),
    ];
    const plan = planCharts([run('a', metrics)]);
    const sparse = Object.fromEntries(plan.charts.map((chart) => [chart.key, chart.sparse]));
    expect(sparse).toEqual({ 'reward/mean': false, 'val/exact_match': true });
  });
});
