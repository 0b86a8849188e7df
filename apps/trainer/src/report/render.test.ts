// The report page as a file: self-contained (uPlot inlined, nothing fetched), its data embedded
// safely even when a question or passage contains markup.

import { describe, expect, it } from 'vitest';
import { renderReport, uplotSources } from './render.js';
import type { ReportRun } from './run-data.js';

const run: ReportRun = {
  label: 'a',
  dir: '/runs/a',
  description: 'GRPO',
  metrics: [
    { step: 1, 'reward/mean': 0.1 },
    { step: 2, 'reward/mean': 0.3 },
  ],
  summaries: [],
  trajectories: [
    {
      id: 'q1',
      type: 'single-hop',
      question: 'Who wrote </script><script>alert(1)</script>?',
      gold: ['x'],
      answer: null,
      exactMatch: 0,
      searches: [],
      segments: [{ text: '<answer>x</answer>\u2028', inserted: false }],
    },
  ],
};

describe('renderReport', () => {
  const html = renderReport({ title: 'A & B', runs: [run] });

  it('inlines uPlot and fetches nothing', () => {
    const { script, style } = uplotSources();
    expect(script.length).toBeGreaterThan(10_000);
    expect(html).toContain(script.slice(0, 200));
    expect(html).toContain(style.slice(0, 100));
    expect(html).not.toMatch(/<script[^>]*\ssrc=|<link[^>]*\shref=|@import/);
    expect(html).toContain('<title>A &amp; B</title>');
  });

  it('embeds the data as JSON that cannot end its script element', () => {
    const scripts = html.match(/<script\b/g) ?? [];
    expect(scripts).toHaveLength(3); // data, uPlot, the page's own
    const json = /<script id="report-data" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!;
    const data = JSON.parse(json) as { runs: ReportRun[]; plan: { charts: { key: string }[] } };
    expect(data.runs[0]!.trajectories[0]!.question).toBe(run.trajectories[0]!.question);
    expect(data.runs[0]!.trajectories[0]!.segments[0]!.text).toBe('<answer>x</answer>\u2028');
    expect(data.plan.charts.map((chart) => chart.key)).toEqual(['reward/mean']);
  });

  it('marks the live page for polling only when asked', () => {
    expect(html).not.toContain('id="live-status"');
    expect(renderReport({ title: 't', runs: [run], live: { pollMs: 500 } })).toContain(
      '"live":{"pollMs":500}',
    );
  });
});
