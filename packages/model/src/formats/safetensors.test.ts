import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../engine-types.js';
import { SafetensorsFormatError } from '../errors.js';
import {
  floatToHalf,
  fromFloat32,
  halfToFloat,
  readSafetensors,
  readSafetensorsHeader,
  toFloat32,
  writeSafetensors,
} from './safetensors.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sr1-st-'));
}

/** Builds a safetensors file by hand from a header object and a data buffer. */
function rawFile(header: unknown, data: Uint8Array, headerLength?: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerLength ?? json.length));
  return Buffer.concat([prefix, json, data]);
}

describe('safetensors', () => {
  it('reads a hand-built file exactly as the format specifies', async () => {
    const dir = await tempDir();
    const values = new Float32Array([1.5, -2, 3.25, 0]);
    const bf16 = new Uint8Array([0x80, 0x3f, 0x00, 0xc0]); // 1.0, -2.0
    const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0x38]); // 1.0, 0.5
    const data = new Uint8Array(16 + 4 + 4);
    data.set(new Uint8Array(values.buffer), 0);
    data.set(bf16, 16);
    data.set(f16, 20);
    const header = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [16, 20] },
      c: { dtype: 'F16', shape: [2], data_offsets: [20, 24] },
    };
    await writeFile(join(dir, 'x.safetensors'), rawFile(header, data));
    const { tensors, header: parsed } = await readSafetensors(join(dir, 'x.safetensors'));
    expect(parsed.metadata).toEqual({ format: 'pt' });
    expect(tensors.get('a')).toEqual({ shape: [2, 2], data: values });
    expect([...tensors.get('b')!.data]).toEqual([1, -2]);
    expect([...tensors.get('c')!.data]).toEqual([1, 0.5]);
  });

  it('round-trips F32 exactly and F16/BF16 within their precision, header 8-byte aligned', async () => {
    const dir = await tempDir();
    const rng = createRng(1);
    const tensors = new Map<string, HostTensor>();
    for (const [name, shape] of [
      ['w', [3, 5]],
      ['b', [7]],
      ['empty', [0, 4]],
    ] as const) {
      const count = shape.reduce((a: number, b: number) => a * b, 1);
      tensors.set(name, {
        shape: [...shape],
        data: Float32Array.from({ length: count }, () => rng.normal()),
      });
    }
    for (const dtype of ['float32', 'float16', 'bfloat16'] as const) {
      const file = join(dir, `${dtype}.safetensors`);
      await writeSafetensors(file, tensors, { dtype, metadata: { format: 'pt' } });
      const bytes = await readFile(file);
      expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
      const { tensors: back } = await readSafetensors(file);
      const tolerance = dtype === 'float32' ? 0 : dtype === 'float16' ? 2 ** -10 : 2 ** -7;
      for (const [name, tensor] of tensors) {
        const got = back.get(name)!;
        expect(got.shape).toEqual(tensor.shape);
        for (let i = 0; i < tensor.data.length; i++) {
          expect(Math.abs(got.data[i]! - tensor.data[i]!)).toBeLessThanOrEqual(
            tolerance * Math.abs(tensor.data[i]!),
          );
        }
      }
    }
  });

  it('converts halves: every f16 bit pattern survives f16 → f32 → f16', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = halfToFloat(bits);
      if (Number.isNaN(value)) continue;
      expect(floatToHalf(value)).toBe(bits);
    }
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds to infinity
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    const bf = toFloat32(
      fromFloat32(new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8]), 'bfloat16'),
      'bfloat16',
    );
    expect([...bf]).toEqual([1, 1 + 2 ** -6]); // ties to even
  });

  it('rejects broken headers with typed errors naming the file and tensor', async () => {
    const dir = await tempDir();
    const file = join(dir, 'bad.safetensors');
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(4), /shorter than the 8-byte header length/],
      [rawFile({}, new Uint8Array(0), 1000), /header length 1000 exceeds/],
      [
        Buffer.concat([rawFile({}, new Uint8Array(0)).subarray(0, 8), Buffer.from('{x')]),
        /not valid UTF-8 JSON/,
      ],
      [
        rawFile({ t: { dtype: 'F99', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
        /field 't': unknown dtype/,
      ],
      [
        rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
        /field 't': data_offsets span 4 bytes/,
      ],
      [
        rawFile({ t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)),
        /field 't': .*past the end/,
      ],
      [
        rawFile(
          {
            t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
            u: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
          },
          new Uint8Array(8),
        ),
        /field 'u': data overlaps/,
      ],
      [
        rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
        /field 't': hole/,
      ],
      [rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /cover 4 of 8/],
      [
        rawFile({ t: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)),
        /field 't': shape/,
      ],
    ];
    for (const [bytes, message] of cases) {
      await writeFile(file, bytes);
      const attempt = readSafetensorsHeader(file);
      await expect(attempt).rejects.toBeInstanceOf(SafetensorsFormatError);
      await expect(readSafetensorsHeader(file)).rejects.toThrow(message);
      await expect(readSafetensorsHeader(file)).rejects.toThrow(file);
    }
  });

  it('refuses to convert integer tensors to float weights', async () => {
    const dir = await tempDir();
    const file = join(dir, 'int.safetensors');
    await writeFile(
      file,
      rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)),
    );
    await expect(readSafetensors(file)).rejects.toThrow(/field 'ids': dtype I64 is not a float type/);
  });
});
