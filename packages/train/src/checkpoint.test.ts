import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import { readSafetensors, writeSafetensors } from '@sr1/model';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { MetricsWriter } from './metrics.js';
import { readOptimizerState, writeOptimizerState } from './optimizer-state.js';

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
  it('without latest.json, resumes from the newest complete checkpoint, not from step 0', async () => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    for (const step of [1, 2]) {
      await saveCheckpoint(run, {
        step,
        trainerState: { cursor: step },
        optimizer,
        writeModel: async () => {},
      });
    }
    await rm(join(run, 'checkpoints', 'latest.json'));
    // A later save killed before its rename: a temporary folder without trainer-state.json.
    await mkdir(join(run, 'checkpoints', 'step-000003.tmp-99999'));
    const loaded = await loadLatestCheckpoint(run);
    expect(loaded?.step).toBe(2);
    expect(loaded?.trainerState).toEqual({ cursor: 2 });
    expect(loaded?.dir).toBe(join(run, 'checkpoints', 'step-000002'));
  });

  it('without latest.json, skips a checkpoint folder whose trainer-state.json is missing', async () => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    await saveCheckpoint(run, { step: 1, trainerState: {}, optimizer: null, writeModel: async () => {} });
    await rm(join(run, 'checkpoints', 'latest.json'));
    await mkdir(join(run, 'checkpoints', 'step-000002'));
    expect((await loadLatestCheckpoint(run))?.step).toBe(1);
  });

  it.each([['../../elsewhere'], ['/etc'], ['step-000001/../../..']])(
    'refuses a latest.json whose dir %j points outside the run folder',
    async (dir) => {
      const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
      await saveCheckpoint(run, { step: 1, trainerState: {}, optimizer: null, writeModel: async () => {} });
      await writeFile(join(run, 'checkpoints', 'latest.json'), JSON.stringify({ step: 1, dir }));
      const error = await loadLatestCheckpoint(run).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).code).toBe('checkpoint');
      expect((error as InvalidInputError).field).toBe('dir');
      expect((error as Error).message).toContain(join(run, 'checkpoints', 'latest.json'));
    },
  );

  it.each([
    ['not JSON', '{"step": 1, "hasOpt'],
    ['no step', '{"hasOptimizer": false, "state": {}}'],
    ["a step that is not the checkpoint's", '{"step": 7, "hasOptimizer": false, "state": {}}'],
    ['no hasOptimizer', '{"step": 1, "state": {}}'],
  ])('reports a corrupt trainer-state.json (%s) as a typed error naming the file', async (_, text) => {
    const run = await mkdtemp(join(tmpdir(), 'sr1-ckpt-'));
    await saveCheckpoint(run, { step: 1, trainerState: {}, optimizer: null, writeModel: async () => {} });
    const file = join(run, 'checkpoints', 'step-000001', 'trainer-state.json');
    await writeFile(file, text);
    const error = await loadLatestCheckpoint(run).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(file);
  });
});

describe('optimizer state files', () => {
  it('round-trip both moments and the step under torch names', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'sr1-opt-')), 'critic-optimizer.safetensors');
    await writeOptimizerState(file, optimizer);
    const { tensors } = await readSafetensors(file);
    expect([...tensors.keys()].sort()).toEqual(['exp_avg.w', 'exp_avg_sq.w']);
    const read = await readOptimizerState(file);
    expect(read.step).toBe(3);
    expect(Array.from(read.firstMoment.get('w')!)).toEqual([1, 2]);
    expect(Array.from(read.secondMoment.get('w')!)).toEqual([3, 4]);
  });

  it('reject a file without a step, naming it', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'sr1-opt-')), 'optimizer.safetensors');
    await writeSafetensors(file, new Map([['exp_avg.w', { shape: [1], data: Float32Array.from([1]) }]]));
    const error = await readOptimizerState(file).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as Error).message).toContain(`${file}: field '__metadata__.step'`);
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
