// The half types: their bit encodings (against known values), float16 feeds and fetches through
// onnxruntime-node with the ledger counting two bytes a value, and bfloat16 kept inside graphs.

import { describe, expect, it } from 'vitest';
import { bfloat16Bits, DTYPE_BYTES, float16Bits, fromHalfBits } from './dtype.js';
import { Graph, typedArrayOf } from './graph.js';
import { createSession } from './session.js';

describe('half encodings', () => {
  it('float16: known bits, round to nearest even, subnormals, overflow', () => {
    expect(float16Bits(1)).toBe(0x3c00);
    expect(float16Bits(-2)).toBe(0xc000);
    expect(float16Bits(65504)).toBe(0x7bff);
    expect(float16Bits(1e6)).toBe(0x7c00);
    expect(float16Bits(2 ** -24)).toBe(0x0001);
    expect(float16Bits(1 + 2 ** -11)).toBe(0x3c00); // a tie: to even
    expect(float16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (const value of [0.1, -Math.PI, 1e-5, 1234.5]) {
      const error = Math.abs(fromHalfBits(float16Bits(value), 'float16') - value);
      expect(error).toBeLessThanOrEqual(Math.max(Math.abs(value) * 2 ** -11, 2 ** -25)); // subnormals: half a step
    }
  });

  it('bfloat16: the high half of float32, rounded', () => {
    expect(bfloat16Bits(1)).toBe(0x3f80);
    expect(fromHalfBits(bfloat16Bits(1 + 2 ** -7), 'bfloat16')).toBe(1 + 2 ** -7);
    expect(fromHalfBits(bfloat16Bits(1 + 2 ** -9), 'bfloat16')).toBe(1);
    expect(typedArrayOf('bfloat16', [1, -1])).toEqual(Uint16Array.of(0x3f80, 0xbf80));
    expect(DTYPE_BYTES.bfloat16).toBe(2);
  });
});

describe('half tensors in sessions', () => {
  it('feeds and fetches float16 as Uint16Array bits; the ledger counts 2 bytes a value', async () => {
    const g = new Graph('f16');
    const x = g.input('x', 'float16', [4]);
    g.output(g.add(x, g.scalar(1, 'float16')), 'y');
    const session = await createSession(g);
    const out = await session.run({
      x: { dtype: 'float16', shape: [4], data: Uint16Array.from([1, 2, 0.5, 0], float16Bits) },
    });
    expect(out.y!.dtype).toBe('float16');
    expect(Array.from(out.y!.data as Uint16Array, (bits) => fromHalfBits(bits, 'float16'))).toEqual([
      2, 3, 1.5, 1,
    ]);
    expect(session.ledger.lastRun).toEqual({ bytesIn: 8, bytesOut: 8 });
    await session.release();
  });

  it('rounds to bfloat16 inside a graph (onnxruntime-node cannot feed or fetch it)', async () => {
    const g = new Graph('bf16');
    const x = g.input('x', 'float32', [2]);
    g.output(g.cast(g.cast(x, 'bfloat16'), 'float32'), 'y');
    const session = await createSession(g);
    const out = await session.run({
      x: { dtype: 'float32', shape: [2], data: Float32Array.of(1 + 2 ** -9, 3) },
    });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([1, 3]);
    await expect(
      session.run({ x: { dtype: 'bfloat16', shape: [2], data: Uint16Array.of(0x3f80, 0x4040) } }),
    ).rejects.toMatchObject({ field: 'x' });
    await session.release();
  });
});
