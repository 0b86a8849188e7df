import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { DeviceUnavailableError } from './errors.js';
import { Graph } from './graph.js';
import { serializeGraph, serializeGraphWithExternalData, writeModel } from './onnx-model.js';
import { createSession, missingCudaLibraries } from './session.js';

function tiny(): Graph {
  const g = new Graph('tiny');
  g.output(g.neg(g.input('x', 'float32', [2])), 'y');
  return g;
}

describe('sessions', () => {
  it('runs on the CPU provider with a thread count', async () => {
    const session = await createSession(tiny(), { device: 'cpu', threads: 1, memoryArena: false });
    expect(session.device).toBe('cpu');
    const out = await session.run({ x: { dtype: 'float32', shape: [2], data: Float32Array.from([1, -2]) } });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([-1, 2]);
    await session.release();
  });

  it('counts the exact host bytes fed and fetched per run, and the initializer bytes', async () => {
    const g = new Graph('ledger');
    const w = g.constant({ dtype: 'float32', shape: [3, 4], data: new Float32Array(12).fill(0.5) }, 'w');
    const x = g.input('x', 'float32', [2, 3]);
    const ids = g.input('ids', 'int64', [5]);
    g.output(g.matmul(x, w), 'y'); // (2, 4) float32: 32 bytes
    g.output(g.neg(ids), 'minus_ids'); // (5) int64: 40 bytes
    const session = await createSession(g, { threads: 1 });
    expect(session.ledger).toEqual({
      runs: 0,
      bytesIn: 0,
      bytesOut: 0,
      lastRun: { bytesIn: 0, bytesOut: 0 },
      initializerBytes: 48,
    });
    const feeds = {
      x: { dtype: 'float32', shape: [2, 3], data: new Float32Array(6) },
      ids: { dtype: 'int64', shape: [5], data: new BigInt64Array(5) },
    } as const;
    await session.run(feeds);
    expect(session.ledger.lastRun).toEqual({ bytesIn: 24 + 40, bytesOut: 32 + 40 });
    await session.run(feeds, ['y']);
    expect(session.ledger).toMatchObject({
      runs: 2,
      bytesIn: 128,
      bytesOut: 72 + 32,
      lastRun: { bytesIn: 64, bytesOut: 32 },
    });
    session.resetLedger();
    expect(session.ledger).toMatchObject({ runs: 0, bytesIn: 0, bytesOut: 0, initializerBytes: 48 });
    await session.release();
  });

  it('holds chosen inputs as initializers, inline or as external data loaded from a path', async () => {
    const build = () => {
      const g = new Graph('weights');
      const w = g.input('w', 'float32', [64, 8]);
      const b = g.input('b', 'float32', [8]);
      g.output(g.add(g.matmul(g.input('x', 'float32', [1, 64]), w), b), 'y');
      return g;
    };
    const w = Float32Array.from({ length: 512 }, (_, i) => ((i * 7) % 13) / 13 - 0.5);
    const b = Float32Array.from({ length: 8 }, (_, i) => i);
    const x = Float32Array.from({ length: 64 }, (_, i) => (i % 5) - 2);
    const expected = Array.from({ length: 8 }, (_, j) => {
      let sum = b[j]!;
      for (let k = 0; k < 64; k++) sum += x[k]! * w[k * 8 + j]!;
      return sum;
    });
    const initializers = {
      w: { dtype: 'float32', shape: [64, 8], data: w },
      b: { dtype: 'float32', shape: [8], data: b },
    } as const;
    const feeds = { x: { dtype: 'float32', shape: [1, 64], data: x } } as const;

    const inline = await createSession(build(), { threads: 1, initializers });
    expect(inline.inputNames).toEqual(['x']);
    expect(inline.ledger.initializerBytes).toBe(2048 + 32);
    const y = Array.from((await inline.run(feeds)).y!.data as Float32Array);
    for (const [j, v] of y.entries()) expect(v).toBeCloseTo(expected[j]!, 4);
    expect(inline.ledger.lastRun).toEqual({ bytesIn: 256, bytesOut: 32 });
    await inline.release();

    const dir = mkdtempSync(join(tmpdir(), 'sr1-external-'));
    const { model, data } = serializeGraphWithExternalData(build(), {
      location: 'weights.bin',
      initializers,
    });
    expect(data.byteLength).toBe(2048); // only w (2048 bytes) reaches the 1024-byte threshold
    expect(model.byteLength).toBeLessThan(1024);
    writeModel(build(), join(dir, 'model.onnx'), { location: 'weights.bin', initializers });
    expect(readFileSync(join(dir, 'weights.bin'))).toEqual(Buffer.from(data));
    const fromFile = await createSession(join(dir, 'model.onnx'), { threads: 1 });
    expect(fromFile.inputNames).toEqual(['x']);
    const z = Array.from((await fromFile.run(feeds)).y!.data as Float32Array);
    expect(z).toEqual(y);
    await fromFile.release();
  });

  it('rejects initializer data that does not match the input', () => {
    const g = new Graph('bad');
    g.output(g.neg(g.input('w', 'float32', [2])), 'y');
    const wrong = { dtype: 'float32', shape: [3], data: new Float32Array(3) } as const;
    expect(() => serializeGraph(g, { initializers: { w: wrong } })).toThrow(InvalidInputError);
    expect(() => serializeGraph(g, { initializers: { v: wrong } })).toThrow(/not an input/);
  });

  it('lists the provider and CUDA libraries that are missing', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sr1-ort-'));
    const missing = missingCudaLibraries(empty, [empty]);
    expect(missing.some((m) => m.startsWith('libonnxruntime_providers_cuda.so'))).toBe(true);
    expect(missing.some((m) => m.startsWith('libonnxruntime_providers_shared.so'))).toBe(true);
    expect(missing.some((m) => m.startsWith('libcudart.so.12'))).toBe(true);
    writeFileSync(join(empty, 'libonnxruntime_providers_cuda.so'), '');
    writeFileSync(join(empty, 'libonnxruntime_providers_shared.so'), '');
    writeFileSync(join(empty, 'libcudart.so.12.4'), '');
    writeFileSync(join(empty, 'libcublas.so.12'), '');
    writeFileSync(join(empty, 'libcudnn.so.9'), '');
    expect(missingCudaLibraries(empty, [empty])).toEqual([]);
    // a CUDA-13 build of the provider links the .so.13 names
    const cuda13 = mkdtempSync(join(tmpdir(), 'sr1-ort-'));
    for (const lib of [
      'libonnxruntime_providers_cuda.so',
      'libonnxruntime_providers_shared.so',
      'libcudart.so.13',
      'libcublas.so.13.1.0.3',
      'libcudnn.so.9',
    ])
      writeFileSync(join(cuda13, lib), '');
    expect(missingCudaLibraries(cuda13, [cuda13])).toEqual([]);
  });

  it.skipIf(missingCudaLibraries().length === 0)(
    'fails with DeviceUnavailableError naming what is missing for cuda',
    async () => {
      const attempt = createSession(tiny(), { device: 'cuda' });
      await expect(attempt).rejects.toBeInstanceOf(DeviceUnavailableError);
      await expect(createSession(tiny(), { device: 'cuda' })).rejects.toThrow(
        /libonnxruntime_providers_cuda\.so.*ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node/,
      );
    },
  );
});

describe('feed validation', () => {
  it('names the input whose dtype, rank or static dim is wrong, and a missing one', async () => {
    const g = new Graph('feeds');
    const x = g.input('x', 'float32', ['batch', 3]);
    g.output(g.neg(x), 'y');
    const session = await createSession(g, { threads: 1 });
    await expect(
      session.run({ x: { dtype: 'float64', shape: [2, 3], data: new Float64Array(6) } }),
    ).rejects.toThrow(/field 'x': fed float64 \(2, 3\), the graph declares float32 \(batch, 3\)/);
    await expect(
      session.run({ x: { dtype: 'float32', shape: [2, 4], data: new Float32Array(8) } }),
    ).rejects.toThrow(/field 'x'/);
    await expect(session.run({})).rejects.toThrow(/field 'x': session input was not fed/);
    const ok = await session.run({ x: { dtype: 'float32', shape: [5, 3], data: new Float32Array(15) } });
    expect(ok.y!.shape).toEqual([5, 3]);
    await session.release();
  });
});
