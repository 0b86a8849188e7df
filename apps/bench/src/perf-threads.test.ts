// The thread sweep's pure parts: which count is each side's best (with numbers recorded on the
// 2-vCPU machines), how `--threads` is read, and how the choice is written into a row.

import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { BenchInvariantError } from './errors.js';
import { bestThreadsText, defaultThreadCounts, parseThreadCounts, pickBestThreads } from './perf-threads.js';

describe('pickBestThreads', () => {
  it("keeps llama.cpp's 1-thread decode, which the 2-thread default hid (issue 15, 2026-12-04)", () => {
    // node-llama-cpp decode tok/s on the 25.2M-parameter model: 1 thread vs 2 threads
    const llamaCpp = [
      { threads: 1, value: 174.6 },
      { threads: 2, value: 83.9 },
    ];
    expect(pickBestThreads(llamaCpp, 'higher')).toEqual({ threads: 1, value: 174.6 });
    // sr1 batch-1 decode on the same run: 139 tok/s at 1 thread, 109 at 2
    const sr1 = [
      { threads: 2, value: 109 },
      { threads: 1, value: 139 },
    ];
    expect(pickBestThreads(sr1, 'higher')).toEqual({ threads: 1, value: 139 });
  });

  it('picks each side on its own: a rate and a time can prefer different counts', () => {
    const prefill = [
      { threads: 1, value: 1800 },
      { threads: 2, value: 2553 },
    ];
    expect(pickBestThreads(prefill, 'higher').threads).toBe(2);
    const forwardSeconds = [
      { threads: 1, value: 0.12 },
      { threads: 2, value: 0.0904 },
      { threads: 3, value: 0.095 },
    ];
    expect(pickBestThreads(forwardSeconds, 'lower')).toEqual({ threads: 2, value: 0.0904 });
  });

  it('gives a tie to fewer threads and never picks a non-finite value', () => {
    expect(
      pickBestThreads(
        [
          { threads: 2, value: 50 },
          { threads: 1, value: 50 },
        ],
        'higher',
      ).threads,
    ).toBe(1);
    expect(
      pickBestThreads(
        [
          { threads: 1, value: Number.NaN },
          { threads: 2, value: 10 },
          { threads: 3, value: Number.POSITIVE_INFINITY },
        ],
        'higher',
      ),
    ).toEqual({ threads: 2, value: 10 });
    expect(() => pickBestThreads([{ threads: 1, value: Number.NaN }], 'lower')).toThrow(
      /no finite measurement among 1 thread counts/,
    );
    expect(() => pickBestThreads([], 'higher')).toThrow(/no finite measurement/);
    expect(() => pickBestThreads([], 'higher')).toThrow(BenchInvariantError);
  });
});

describe('thread counts', () => {
  it('sweeps 1..cores by default', () => {
    expect(defaultThreadCounts(2)).toEqual([1, 2]);
    expect(defaultThreadCounts(4)).toEqual([1, 2, 3, 4]);
    expect(defaultThreadCounts(0)).toEqual([1]);
  });

  it('reads --threads as a sorted list without repeats', () => {
    expect(parseThreadCounts('2')).toEqual([2]);
    expect(parseThreadCounts('2, 1,2')).toEqual([1, 2]);
    expect(parseThreadCounts('8,1,4')).toEqual([1, 4, 8]);
  });

  it('names the flag and the bad item in every error', () => {
    for (const [value, reason] of [
      ['', /got nothing/],
      [',', /got nothing/],
      ['0', /got '0' in '0'/],
      ['1,two', /got 'two' in '1,two'/],
      ['1.5', /got '1.5'/],
      ['-1', /got '-1'/],
      ['1,,2', /got '' in '1,,2'/],
    ] as const) {
      let error: unknown;
      try {
        parseThreadCounts(value);
      } catch (caught) {
        error = caught;
      }
      expect(error, value).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).flag, value).toBe('--threads');
      expect((error as Error).message, value).toMatch(reason);
      expect((error as Error).message, value).toMatch(/^flag --threads: /);
    }
  });
});

describe('bestThreadsText', () => {
  it('names every side with its chosen count, and the counts tried', () => {
    expect(
      bestThreadsText(
        [1, 2],
        [
          { name: 'sr1', threads: 2 },
          { name: 'llama.cpp', threads: 1 },
        ],
      ),
    ).toBe('each side at its best of 1, 2 threads: sr1 2 threads, llama.cpp 1 thread');
    expect(bestThreadsText([2], [{ name: 'sr1', threads: 2 }])).toBe('sr1 2 threads (the only count tried)');
  });
});
