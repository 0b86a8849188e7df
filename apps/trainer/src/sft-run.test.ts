// `engine.worker` (the default) trains in a worker_thread: the run is the same, bit for bit at one
// thread, as the in-thread policy's — metrics, checkpoints and the final model (kill-resume.test.ts
// resumes a worker run).

import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import { readMetrics } from './testing/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../examples/sft.json', import.meta.url));

/** Every metric but the timings, which differ from run to run. */
const learned = (metrics: Record<string, number>[]) => metrics.map(({ tokensPerSecond: _, ...rest }) => rest);

describe('sr1-train sft in a worker_thread', () => {
  it('trains and checkpoints exactly as in-thread (1 thread)', async () => {
    const example = await loadSftConfig(EXAMPLE);
    expect(example.engine.worker).toBe(true);
    const run = (worker: boolean, dir: string) =>
      runSft(
        {
          ...example,
          training: { ...example.training, steps: 3, batchSize: 4, microBatchSize: 2 },
          output: { ...example.output, dir, saveEvery: 2 },
          engine: { ...example.engine, threads: 1, worker },
        },
        { resume: false, quiet: true },
      );
    const root = await mkdtemp(join(tmpdir(), 'sr1-sft-worker-'));
    const inThread = join(root, 'in-thread');
    const inWorker = join(root, 'worker');
    const a = await run(false, inThread);
    const b = await run(true, inWorker);
    expect(b.lastLoss).toBe(a.lastLoss);
    expect(learned(await readMetrics(inWorker))).toEqual(learned(await readMetrics(inThread)));
    for (const file of ['final/model.safetensors', 'checkpoints/step-000002/model.safetensors']) {
      expect((await readFile(join(inWorker, file))).equals(await readFile(join(inThread, file))), file).toBe(
        true,
      );
    }
    const config = JSON.parse(await readFile(join(inWorker, 'config.resolved.json'), 'utf8'));
    expect(config.engine).toEqual({ device: 'cpu', threads: 1, worker: true, precision: 'float32' });
  });

  it('trains with engine.precision float16: losses near the float32 run, not equal; recorded in the resolved config', async () => {
    const example = await loadSftConfig(EXAMPLE);
    const run = (precision: 'float32' | 'float16', dir: string) =>
      runSft(
        {
          ...example,
          training: { ...example.training, steps: 3, batchSize: 4, microBatchSize: 2 },
          output: { ...example.output, dir, saveEvery: 3 },
          engine: { ...example.engine, threads: 1, precision },
        },
        { resume: false, quiet: true },
      );
    const root = await mkdtemp(join(tmpdir(), 'sr1-sft-precision-'));
    const full = await run('float32', join(root, 'float32'));
    const half = await run('float16', join(root, 'float16'));
    console.log(`sft 3 steps: last loss float32 ${full.lastLoss}, float16 ${half.lastLoss}`);
    expect(half.lastLoss).not.toBe(full.lastLoss);
    expect(Math.abs(half.lastLoss - full.lastLoss) / Math.abs(full.lastLoss)).toBeLessThan(5e-2);
    const config = JSON.parse(await readFile(join(root, 'float16', 'config.resolved.json'), 'utf8'));
    expect(config.engine.precision).toBe('float16');
  });
});
