// The live dashboard as a real server on 127.0.0.1: the page, data.json following metrics.jsonl
// as a run appends to it, and the server gone when the run ends (or fails).

import { appendFile, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDashboard, withDashboard } from './dashboard.js';
import type { ReportData } from './render.js';

const runFolder = () => mkdtemp(join(tmpdir(), 'sr1-dashboard-'));

describe('startDashboard', () => {
  it('serves the live page and data.json that follows metrics.jsonl', async () => {
    const dir = await runFolder();
    const dashboard = await startDashboard({ port: 0, runDirs: [dir], title: 'live <run>' });
    try {
      expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(dashboard.url);
      expect(page.headers.get('content-type')).toContain('text/html');
      const html = await page.text();
      expect(html).toContain('<title>live &lt;run&gt;</title>');
      expect(html).toContain('id="live-status"');
      expect(html).toContain('"live":{"pollMs":2000}');

      const data = async () => (await (await fetch(`${dashboard.url}data.json`)).json()) as ReportData;
      expect((await data()).runs[0]!.metrics).toEqual([]); // the run has not written yet
      await writeFile(join(dir, 'metrics.jsonl'), '{"step":1,"loss":2.5}\n{"step":2,"loss":2.25}\n');
      let current = await data();
      expect(current.runs[0]!.metrics.map((m) => m.loss)).toEqual([2.5, 2.25]);
      expect(current.plan.charts.map((chart) => chart.key)).toEqual(['loss']);
      await appendFile(join(dir, 'metrics.jsonl'), '{"step":3,"loss":2.0}\n{"step":4,"lo');
      current = await data();
      expect(current.runs[0]!.metrics.map((m) => m.step)).toEqual([1, 2, 3]);

      expect((await fetch(`${dashboard.url}secrets`)).status).toBe(404);
      expect((await fetch(`${dashboard.url}favicon.ico`)).status).toBe(204); // no console error in the page
      expect((await fetch(dashboard.url, { method: 'POST' })).status).toBe(405);
    } finally {
      await dashboard.close();
    }
  });

  it('fails with EADDRINUSE when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      await expect(startDashboard({ port, runDirs: [await runFolder()], title: 't' })).rejects.toMatchObject({
        code: 'EADDRINUSE',
      });
    } finally {
      blocker.close();
    }
  });
});

describe('withDashboard', () => {
  it('serves while the run lasts and stops with it, also when the run fails', async () => {
    const dir = await runFolder();
    const lines: string[] = [];
    let url = '';
    const result = await withDashboard(
      0,
      { runDirs: [dir], title: 't' },
      (line) => lines.push(line),
      async () => {
        url = /http:\S+/.exec(lines[0] ?? '')![0];
        expect((await fetch(url)).status).toBe(200);
        return 42;
      },
    );
    expect(result).toBe(42);
    expect(lines[0]).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/ /);
    await expect(fetch(url)).rejects.toThrow();

    await expect(
      withDashboard(
        0,
        { runDirs: [dir], title: 't' },
        (line) => lines.push(line),
        async () => {
          url = /http:\S+/.exec(lines[1] ?? '')![0];
          throw new Error('the run failed');
        },
      ),
    ).rejects.toThrow('the run failed');
    await expect(fetch(url)).rejects.toThrow();
  });

  it('runs without a server when no port is given', async () => {
    const lines: string[] = [];
    expect(
      await withDashboard(
        undefined,
        { runDirs: [], title: 't' },
        (l) => lines.push(l),
        async () => 7,
      ),
    ).toBe(7);
    expect(lines).toEqual([]);
  });
});
