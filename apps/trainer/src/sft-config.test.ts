import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSftConfig, parseSftConfig } from './sft-config.js';

const MINIMAL = {
  model: { path: 'base' },
  data: { train: 'data.jsonl' },
  training: { steps: 10 },
  output: { dir: 'run' },
};

describe('SFT config', () => {
  it('fills defaults and resolves paths against the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cfg-'));
    const file = join(dir, 'sft.json');
    await writeFile(file, JSON.stringify(MINIMAL));
    const config = await loadSftConfig(file);
    expect(config.model).toEqual({ kind: 'path', path: join(dir, 'base') });
    expect(config.data).toEqual({ train: join(dir, 'data.jsonl'), maxLength: 512 });
    expect(config.training).toMatchObject({ steps: 10, batchSize: 8, microBatchSize: 4, schedule: 'cosine' });
    expect(config.output.saveEvery).toBe(2);
    // the policy trains in a worker_thread unless engine.worker is false
    expect(config.engine).toEqual({ device: 'cpu', threads: 0, worker: true, precision: 'float32' });
    expect(parseSftConfig({ ...MINIMAL, engine: { worker: false } }).engine.worker).toBe(false);
    expect(parseSftConfig({ ...MINIMAL, engine: { precision: 'float16' } }).engine.precision).toBe('float16');
    expect(
      parseSftConfig({ ...MINIMAL, engine: { device: 'cuda', precision: 'bfloat16' } }).engine.precision,
    ).toBe('bfloat16');
  });

  it.each([
    [{ ...MINIMAL, training: { steps: 0 } }, "field 'training.steps': expected a number ≥ 1, got 0"],
    [
      { ...MINIMAL, training: { steps: 5, lr: 'fast' } },
      'field \'training.lr\': expected a number, got "fast"',
    ],
    [
      { ...MINIMAL, training: { steps: 5, batchSize: 6, microBatchSize: 4 } },
      "field 'training.microBatchSize': must divide",
    ],
    [
      { ...MINIMAL, training: { steps: 5, schedule: 'linear' } },
      "field 'training.schedule': expected one of [constant, linear-warmup, cosine]",
    ],
    [{ ...MINIMAL, trainig: {} }, "field 'trainig': unknown field"],
    [{ ...MINIMAL, model: {} }, "field 'model.path': give exactly one of"],
    [{ ...MINIMAL, data: {} }, "field 'data.train': is required"],
    [{ ...MINIMAL, engine: { worker: 'yes' } }, 'field \'engine.worker\': expected true or false, got "yes"'],
    [
      { ...MINIMAL, engine: { precision: 'half' } },
      "field 'engine.precision': expected one of [float32, float16, bfloat16]",
    ],
    [
      { ...MINIMAL, engine: { precision: 'bfloat16' } },
      "field 'engine.precision': 'bfloat16' needs engine.device 'cuda'",
    ],
  ])('rejects %j', (json, message) => {
    expect(() => parseSftConfig(json as Record<string, unknown>, 'sft.json')).toThrow(message);
    expect(() => parseSftConfig(json as Record<string, unknown>, 'sft.json')).toThrow('sft.json: ');
  });

  it('names a missing or broken file', async () => {
    await expect(loadSftConfig('/nonexistent/sft.json')).rejects.toThrow(
      '/nonexistent/sft.json: file not found',
    );
  });
});
