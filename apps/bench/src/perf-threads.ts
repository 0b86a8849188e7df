// Thread sweeps of `sr1-bench perf`: each side of a comparison (sr1, llama.cpp, PyTorch) is measured
// at every thread count asked for and reported at its own best, so no peer is compared at its worst
// (on 2-vCPU machines llama.cpp decodes 2–7× faster with 1 thread than with 2).

import { availableParallelism } from 'node:os';
import { InvalidInputError } from '@sr1/core';
import { BenchInvariantError } from './errors.js';

/** 1, 2, …, cores: every count a side could be at its best with. */
export function defaultThreadCounts(cores: number = availableParallelism()): number[] {
  return Array.from({ length: Math.max(1, cores) }, (_, i) => i + 1);
}

/**
 * `--threads LIST`: comma-separated positive integers (`1,2`), in increasing order without repeats;
 * anything else is an InvalidInputError naming `flag`.
 */
export function parseThreadCounts(value: string, flag = '--threads'): number[] {
  const items = value.split(',').map((item) => item.trim());
  if (items.every((item) => item === '')) {
    throw new InvalidInputError({
      flag,
      reason: 'expected a comma-separated list of thread counts, got nothing',
    });
  }
  const counts = new Set<number>();
  for (const item of items) {
    const count = Number(item);
    if (item === '' || !/^\d+$/.test(item) || !Number.isSafeInteger(count) || count < 1) {
      throw new InvalidInputError({
        flag,
        reason: `expected positive integers like 1,2, got '${item}' in '${value}'`,
      });
    }
    counts.add(count);
  }
  return [...counts].sort((a, b) => a - b);
}

/** One measurement of one side at one thread count. */
export interface ThreadSample {
  threads: number;
  value: number;
}

/**
 * The best sample of one side: the highest rate or the lowest time. Ties go to fewer threads (the
 * same speed for less of the machine). Non-finite values (a failed or empty measurement) never win.
 */
export function pickBestThreads(samples: readonly ThreadSample[], better: 'higher' | 'lower'): ThreadSample {
  let best: ThreadSample | undefined;
  for (const sample of samples) {
    if (!Number.isFinite(sample.value)) continue;
    const wins =
      best === undefined ||
      (better === 'higher' ? sample.value > best.value : sample.value < best.value) ||
      (sample.value === best.value && sample.threads < best.threads);
    if (wins) best = sample;
  }
  if (best === undefined) {
    throw new BenchInvariantError(
      `no finite measurement among ${samples.length} thread counts; expected at least one to pick the best from`,
    );
  }
  return best;
}

/** `1 thread`, `2 threads`. */
export function threadsText(count: number): string {
  return `${count} ${count === 1 ? 'thread' : 'threads'}`;
}

/** `each side at its best of 1, 2 threads: sr1 2 threads, llama.cpp 1 thread`. */
export function bestThreadsText(
  tried: readonly number[],
  sides: readonly { name: string; threads: number }[],
): string {
  const chosen = sides.map((side) => `${side.name} ${threadsText(side.threads)}`).join(', ');
  if (tried.length === 1) return `${chosen} (the only count tried)`;
  return `each side at its best of ${tried.join(', ')} threads: ${chosen}`;
}
