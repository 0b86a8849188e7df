// The engine benchmark's pure parts: the seeded multi-turn workload both sides run, its totals, the
// session driver over a scripted engine, and the rows made of a result.

import { describe, expect, it } from 'vitest';
import {
  ENGINE_PERF_SIZES,
  type EnginePerfResult,
  engineRows,
  type RolloutWorkloadOptions,
  rolloutWorkload,
  runSessions,
  workloadTotals,
} from './engine-perf.js';
import { BenchInvariantError } from './errors.js';
import { toPerfRow } from './perf-report.js';

const SMALL: RolloutWorkloadOptions = {
  trajectories: 40,
  maxTurns: 4,
  promptTokens: [80, 120],
  turnTokens: [20, 120],
  infoTokens: 300,
  idLimit: 2000,
  seed: 2,
};

describe('rolloutWorkload', () => {
  it('draws the same workload for a seed, within the ranges, one information block between turns', () => {
    const plan = rolloutWorkload(SMALL);
    expect(rolloutWorkload(SMALL)).toEqual(plan);
    expect(rolloutWorkload({ ...SMALL, seed: 3 })).not.toEqual(plan);
    expect(plan).toHaveLength(40);
    for (const trajectory of plan) {
      expect(trajectory.prompt.length).toBeGreaterThanOrEqual(80);
      expect(trajectory.prompt.length).toBeLessThanOrEqual(120);
      expect(trajectory.turns.length).toBeGreaterThanOrEqual(1);
      expect(trajectory.turns.length).toBeLessThanOrEqual(4);
      for (const count of trajectory.turns) {
        expect(count).toBeGreaterThanOrEqual(20);
        expect(count).toBeLessThanOrEqual(120);
      }
      expect(trajectory.info).toHaveLength(trajectory.turns.length - 1);
      for (const block of trajectory.info) expect(block).toHaveLength(300);
      for (const id of [...trajectory.prompt, ...trajectory.info.flat()]) {
        expect(Number.isInteger(id) && id >= 1 && id < 2000).toBe(true);
      }
    }
    // every turn count 1..4 occurs among 40 trajectories
    expect(new Set(plan.map((trajectory) => trajectory.turns.length))).toEqual(new Set([1, 2, 3, 4]));
  });

  it('refuses shapes it cannot draw from', () => {
    expect(() => rolloutWorkload({ ...SMALL, turnTokens: [10, 5] })).toThrow(BenchInvariantError);
    expect(() => rolloutWorkload({ ...SMALL, promptTokens: [0, 5] })).toThrow(/promptTokens/);
    expect(() => rolloutWorkload({ ...SMALL, trajectories: 0 })).toThrow(/trajectories/);
  });

  it('the recorded sizes fit the bench model (4,096 positions) and the quick ones are smaller', () => {
    const full = workloadTotals(rolloutWorkload(ENGINE_PERF_SIZES.full.workload));
    expect(full.longestContext).toBeLessThan(4096);
    expect(rolloutWorkload(ENGINE_PERF_SIZES.full.workload)).toHaveLength(64);
    const quick = workloadTotals(rolloutWorkload(ENGINE_PERF_SIZES.quick.workload));
    expect(quick.generated).toBeLessThan(full.generated / 10);
  });
});

describe('workloadTotals', () => {
  it('sums generated, prompt and information tokens, and finds the longest context', () => {
    const totals = workloadTotals([
      { prompt: [1, 2, 3], turns: [5, 7], info: [[4, 4, 4, 4]] },
      { prompt: [1], turns: [2], info: [] },
    ]);
    expect(totals).toEqual({ generated: 14, promptTokens: 4, infoTokens: 4, turns: 3, longestContext: 19 });
  });
});

describe('runSessions', () => {
  it('starts every trajectory, continues each turn with its information block, releases, counts tokens', async () => {
    const calls: string[] = [];
    let nextSession = 1;
    const engine = {
      async start(prompt: readonly number[], options: { maxNewTokens: number }) {
        const session = nextSession++;
        calls.push(`start ${session} ${prompt.length} ${options.maxNewTokens}`);
        return { session, result: { tokenIds: Array(options.maxNewTokens).fill(7) } };
      },
      async continue(session: number, append: readonly number[], options: { maxNewTokens: number }) {
        calls.push(`continue ${session} ${append.length} ${options.maxNewTokens}`);
        return { tokenIds: Array(options.maxNewTokens).fill(7) };
      },
      release(session: number) {
        calls.push(`release ${session}`);
      },
    };
    const plan = [
      { prompt: [1, 2], turns: [3, 4, 5], info: [[9], [9, 9]] },
      { prompt: [1], turns: [6], info: [] },
    ];
    const { generated, seconds } = await runSessions(engine, plan);
    expect(generated).toBe(18);
    expect(seconds).toBeGreaterThanOrEqual(0);
    expect(calls.filter((call) => call.split(' ')[1] === '1')).toEqual([
      'start 1 2 3',
      'continue 1 1 4',
      'continue 1 2 5',
      'release 1',
    ]);
    expect(calls).toContain('start 2 1 6');
    expect(calls).toContain('release 2');
  });
});

function result(overrides: Partial<EnginePerfResult> = {}): EnginePerfResult {
  return {
    parameters: 25_200_000,
    hidden: 512,
    layers: 8,
    llamaCppVersion: '3.21.1',
    workload: ENGINE_PERF_SIZES.full.workload,
    totals: { generated: 1000, promptTokens: 100, infoTokens: 300, turns: 10, longestContext: 500 },
    threads: [1, 2],
    sr1: [
      { threads: 1, generated: 1000, seconds: 4 },
      { threads: 2, generated: 1000, seconds: 2 },
    ],
    llamaCpp: [
      { threads: 1, sequences: 4, generated: 1000, seconds: 8 },
      { threads: 1, sequences: 16, generated: 1000, seconds: 5 },
      { threads: 2, sequences: 4, generated: 1000, seconds: 10 },
      { threads: 2, sequences: 16, generated: 1000, seconds: 6 },
    ],
    eventLoop: {
      batch: 32,
      promptTokens: 32,
      newTokens: 64,
      runs: [
        {
          threads: 1,
          worker: { p99Ms: 12, maxMs: 20, seconds: 3 },
          inThread: { p99Ms: 150, maxMs: 200, seconds: 3 },
        },
        {
          threads: 2,
          worker: { p99Ms: 15, maxMs: 25, seconds: 2 },
          inThread: { p99Ms: 90, maxMs: 120, seconds: 2 },
        },
      ],
    },
    ...overrides,
  };
}

describe('engineRows', () => {
  it('rollout-multiturn: each side at its best setting; eventloop-p99: worker vs in-thread, lower is better', () => {
    const [rollout, eventLoop] = engineRows(result());
    expect(rollout!.id).toBe('rollout-multiturn');
    expect(rollout!.sr1).toEqual({ value: 500, unit: 'tok/s' });
    expect(rollout!.peer).toEqual({ value: 200, unit: 'tok/s' });
    expect(rollout!.better).toBe('higher');
    expect(rollout!.threads).toEqual({ sr1: 2, peer: 1, tried: [1, 2] });
    expect(rollout!.what).toContain('one context with 16 sequences of 4, 16 tried');
    expect(rollout!.what).toContain('sr1 2 threads, llama.cpp 1 thread');
    expect(rollout!.what).toContain('1,000 generated tokens');
    expect(eventLoop!.id).toBe('eventloop-p99');
    expect(eventLoop!.sr1).toEqual({ value: 12, unit: 'ms' });
    expect(eventLoop!.peer).toEqual({ value: 90, unit: 'ms' });
    expect(eventLoop!.better).toBe('lower');
    expect(eventLoop!.threads).toEqual({ sr1: 1, peer: 2, tried: [1, 2] });
    const row = toPerfRow(eventLoop!, { benchmark: 'engine', command: 'x', date: 'd', machine: 'm' });
    expect(row.ratio).toBe('7.50');
  });

  it('refuses a run that generated a different number of tokens than the workload (an unfair comparison)', () => {
    const unequal = result({
      llamaCpp: [{ threads: 1, sequences: 4, generated: 990, seconds: 8 }],
    });
    expect(() => engineRows(unequal)).toThrow(BenchInvariantError);
    expect(() => engineRows(unequal)).toThrow(/llama.cpp, 4 sequences, 1 thread\) generated 990/);
    expect(() => engineRows(result({ sr1: [] }))).toThrow(/no runs/);
  });
});
