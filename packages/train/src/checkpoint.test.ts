import { appendFile, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { MetricsWriter } from './metrics.js';

const optimizer = {
  step: 3,
  firstMoment: new Map([['w', Float32Array.from([1, 2])]]),
  secondMoment: new Map([['w', Float32Array.from([3, 4])]]),
};

describe('checkpoints', () => {
  it('round-trips state and optimiser moments and keeps the newest two', async () => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    expect(await loadLatestCheckpoint(run)).toBeNull();
    for (const step of [1, 2, 3]) {
      await saveCheckpoint(run, {
        step,
        trainerState: { cursor: step * 10 },
        optimizer,
        writeModel: (dir) => writeFile(join(dir, 'config.json'), '{}'),
      });
    }
    const loaded = await loadLatestCheckpoint(run);
    expect(loaded?.step).toBe(3);
    expect(loaded?.trainerState).toEqual({ cursor: 30 });
    expect(loaded?.optimizer?.step).toBe(3);
    expect(Array.from(loaded!.optimizer!.secondMoment.get('w')!)).toEqual([3, 4]);
    expect((await readdir(join(run, 'checkpoints'))).sort()).toEqual([
      'latest.json',
      'step-000002',
      'step-000003',
    ]);
  });

  it('ignores a half-written checkpoint of a killed run', async () => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    await saveCheckpoint(run, { step: 1, trainerState: {}, optimizer: null, writeModel: async () => {} });
    // What a kill -9 during the next save leaves behind: a temporary folder, latest.json untouched.
    await saveCheckpoint(run, {
      step: 2,
      trainerState: {},
      optimizer: null,
      writeModel: async () => {
        throw new Error('killed');
      },
    }).catch(() => {});
    expect((await loadLatestCheckpoint(run))?.step).toBe(1);
  });

  it('reports a corrupt latest.json with its path', async () => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    await saveCheckpoint(run, { step: 1, trainerState: {}, optimizer: null, writeModel: async () => {} });
    await writeFile(join(run, 'checkpoints', 'latest.json'), '{"step": "x"}');
    await expect(loadLatestCheckpoint(run)).rejects.toThrow(join(run, 'checkpoints', 'latest.json'));
  });
});

describe('MetricsWriter', () => {
  it('drops records past the resume step', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-metrics-'));
    const writer = new MetricsWriter(join(dir, 'metrics.jsonl'));
    for (const step of [1, 2, 3, 4]) writer.write({ step, loss: step });
    writer.truncateAfter(2);
    const lines = (await readFile(writer.file, 'utf8')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).step)).toEqual([1, 2]);
  });

  it('drops the torn last line a kill -9 leaves, but not a corrupt line before it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-metrics-'));
    const writer = new MetricsWriter(join(dir, 'metrics.jsonl'));
    for (const step of [1, 2]) writer.write({ step, loss: step });
    await appendFile(writer.file, '{"step":3,"lo');
    writer.truncateAfter(2);
    expect(await readFile(writer.file, 'utf8')).toBe('{"step":1,"loss":1}\n{"step":2,"loss":2}\n');
    await appendFile(writer.file, '{"step":3,"lo\n{"step":4}\n');
    expect(() => writer.truncateAfter(2)).toThrow(`${writer.file}:3`);
  });
});
