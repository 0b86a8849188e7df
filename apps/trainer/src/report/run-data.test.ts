// Reading run folders back for the report: both layouts, typed errors naming the file and line,
// and a run still writing its metrics read without failing.

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import { runMethod } from '@sr1/eval';
import type { Retriever } from '@sr1/rollout';
import { InMemoryRetriever, PieceTokenizer, ScriptedGenerator } from '@sr1/rollout/testing';
import { describe, expect, it } from 'vitest';
import { loadRun, loadRuns, maskedSegments, reportTrajectory } from './run-data.js';

async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-report-run-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

const config = JSON.stringify({ algorithm: 'grpo', maskRetrievedTokens: false, steps: 16, seed: 3 });

describe('loadRun', () => {
  it('reads a demo folder: the RL run in rl-run/, the table and trajectories beside it', async () => {
    const dir = await folder({
      'rl-run/metrics.jsonl': '{"step":0,"val/exact_match":0.1}\n{"step":1,"reward/mean":0.5}\n',
      'rl-run/config.resolved.json': config,
      'results.json': JSON.stringify([{ label: 'base agent', summary: { exactMatch: 0.1 } }]),
      'trajectories.jsonl': `${JSON.stringify({ id: 'q1', type: 'two-hop', segments: [] })}\n`,
    });
    const run = await loadRun(dir);
    expect(run.metrics).toHaveLength(2);
    expect(run.description).toBe('GRPO · retrieved tokens NOT masked · 16 steps · seed 3');
    expect(run.summaries[0]!.label).toBe('base agent');
    expect(run.trajectories.map((t) => t.type)).toEqual(['two-hop']);
  });

  it("shows a demo's RL validation trajectories until its held-out ones are written", async () => {
    const line = (id: string) => `${JSON.stringify({ id, type: 'two-hop', segments: [] })}\n`;
    const dir = await folder({
      'rl-run/metrics.jsonl': '{"step":1,"reward/mean":0.5}\n',
      'rl-run/trajectories.jsonl': line('validation-q'),
    });
    expect((await loadRun(dir)).trajectories.map((t) => t.id)).toEqual(['validation-q']);
    await writeFile(join(dir, 'trajectories.jsonl'), line('held-out-q'));
    expect((await loadRun(dir)).trajectories.map((t) => t.id)).toEqual(['held-out-q']);
  });

  it('names the file and line of a bad metrics line', async () => {
    const dir = await folder({ 'metrics.jsonl': '{"step":1}\n{"step":2,\n{"step":3}\n' });
    const error = await loadRun(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toContain(`${join(dir, 'metrics.jsonl')}:2: not JSON`);
  });

  it('says what is missing in a folder that is not a run', async () => {
    const dir = await folder({ 'notes.txt': 'hello' });
    await expect(loadRun(dir)).rejects.toThrow(/has no metrics\.jsonl \(nor rl-run\/metrics\.jsonl\)/);
    await expect(loadRun(join(dir, 'notes.txt'))).rejects.toThrow(/is not a run folder/);
  });

  it('live: a run that has not started is empty and a torn last line is skipped', async () => {
    const dir = await folder({ 'metrics.jsonl': '{"step":1,"loss":2}\n{"step":2,"lo' });
    expect((await loadRun(dir, { live: true })).metrics).toEqual([{ step: 1, loss: 2 }]);
    await expect(loadRun(dir)).rejects.toThrow(/metrics\.jsonl:2: not JSON/);
    expect((await loadRun(join(dir, 'not-yet'), { live: true })).metrics).toEqual([]);
  });
});

describe('loadRuns', () => {
  it('labels runs by folder name, by path where names repeat', async () => {
    const a = await folder({ 'x/metrics.jsonl': '{"step":1}\n' });
    const b = await folder({ 'x/metrics.jsonl': '{"step":1}\n', 'y/metrics.jsonl': '{"step":1}\n' });
    const runs = await loadRuns([join(a, 'x'), join(b, 'x'), join(b, 'y')]);
    expect(runs[2]!.label).toBe('y');
    expect(runs[0]!.label).not.toBe(runs[1]!.label);
    expect(runs[0]!.label).toMatch(/x$/);
  });

  it('needs at least one folder', async () => {
    await expect(loadRuns([])).rejects.toThrow(/at least one run folder/);
  });
});

describe('maskedSegments', () => {
  it('splits tokens into generated and inserted runs', () => {
    const segments = maskedSegments([1, 2, 3, 4, 5], [1, 1, 0, 0, 1], (ids) => ids.join(','));
    expect(segments).toEqual([
      { text: '1,2', inserted: false },
      { text: '3,4', inserted: true },
      { text: '5', inserted: false },
    ]);
  });
});

describe('reportTrajectory', () => {
  it('lists the passages the answer rests on, with their files and the ones that contain the answer', async () => {
    const tokenizer = new PieceTokenizer();
    const passages = new InMemoryRetriever();
    // The same passages as if ingested from files: each hit gets a source (file and page).
    const retriever: Retriever = {
      search: async (queries, topk) =>
        (await passages.search(queries, topk)).map((hits) =>
          hits.map((hit) => ({
            ...hit,
            source: {
              path: `wiki/${hit.id}.pdf`,
              title: hit.title,
              headingPath: [],
              start: 0,
              end: 1,
              page: 2,
            },
          })),
        ),
    };
    const generator = new ScriptedGenerator({
      tokenizer,
      scripts: { q1: ['<search> last moon landing </search>', '<answer> December 1972 </answer>'] },
    });
    const question = {
      id: 'q1',
      question: 'When was the last moon landing?',
      golden_answers: ['December 1972'],
    };
    const [record] = await runMethod('agent', 'nq', [question], {
      generator,
      retriever,
      tokenizer,
      keepTrajectories: true,
    });
    const viewed = await reportTrajectory(record!, question, {
      decode: (ids) => tokenizer.decode(ids),
      lookupHits: async (query) => (await retriever.search([query], 3))[0]!,
    });
    const hits = (await passages.search(['last moon landing'], 3))[0]!;
    expect(viewed.sources).toEqual(
      hits.map((hit) => ({
        id: hit.id,
        title: hit.title,
        path: `wiki/${hit.id}.pdf p. 2`,
        containsAnswer: hit.contents.includes('December 1972'),
      })),
    );
    expect(viewed.sources!.filter((source) => source.containsAnswer).map((source) => source.title)).toEqual([
      'Moon landing',
    ]);
  });
});
