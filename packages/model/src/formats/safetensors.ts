// A reader and writer of the safetensors format (8-byte little-endian header length, a JSON header
// of {name: {dtype, shape, data_offsets}} plus `__metadata__`, then the raw little-endian data).
// Reads go through a file handle, one tensor at a time, so a large file is read exactly once.

import { open } from 'node:fs/promises';
import type { HostTensor, WeightDtype } from '../engine-types.js';
import { MissingFileError, SafetensorsFormatError } from '../errors.js';

/** Dtype names in a safetensors header, and their element sizes in bytes. */
const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
} as const;
type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** The dtypes sr1 can convert to float32. */
const FLOAT_DTYPES: Record<string, WeightDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const DTYPE_NAMES: Record<WeightDtype, 'F32' | 'F16' | 'BF16'> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
};

/** The header is JSON; a limit guards against reading garbage lengths (the reference uses 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's entry in a safetensors header. Offsets are absolute positions in the file. */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte offset of the first byte of the tensor's data in the file. */
  start: number;
  /** Absolute byte offset one past the last byte. */
  end: number;
}

/** A parsed and validated safetensors header. */
export interface SafetensorsHeader {
  file: string;
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Byte offset where the data buffer begins (8 + header length). */
  dataStart: number;
}

/**
 * Parses and validates a header: dtypes known, shapes non-negative integers, sizes matching
 * dtype × shape, offsets in bounds, no overlaps or holes, and the data filling the file exactly.
 * @param headerBytes - the JSON header (after the 8-byte length)
 * @param dataLength - bytes in the file after the header
 */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  dataLength: number,
): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new SafetensorsFormatError(file, `header is not valid UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SafetensorsFormatError(file, 'header is not a JSON object');
  }
  const dataStart = 8 + headerBytes.length;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new SafetensorsFormatError(file, '__metadata__ must be an object of strings');
      }
      for (const [key, item] of Object.entries(value)) {
        if (typeof item !== 'string') {
          throw new SafetensorsFormatError(file, `__metadata__.${key} must be a string`);
        }
      }
      metadata = value as Record<string, string>;
      continue;
    }
    if (typeof value !== 'object' || value === null) {
      throw new SafetensorsFormatError(file, 'entry is not an object', name);
    }
    const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
    if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
      throw new SafetensorsFormatError(file, `unknown dtype ${JSON.stringify(dtype)}`, name);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsFormatError(file, `shape must be a list of non-negative integers`, name);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      throw new SafetensorsFormatError(
        file,
        'data_offsets must be [begin, end] with 0 <= begin <= end',
        name,
      );
    }
    const [begin, end] = offsets as [number, number];
    const expected = (shape as number[]).reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype as SafetensorsDtype];
    if (end - begin !== expected) {
      throw new SafetensorsFormatError(
        file,
        `data_offsets span ${end - begin} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`,
        name,
      );
    }
    if (end > dataLength) {
      throw new SafetensorsFormatError(
        file,
        `data_offsets end ${end} is past the end of the data (${dataLength} bytes)`,
        name,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], start: dataStart + begin, end: dataStart + end });
  }
  // The format requires the tensors to tile the data buffer exactly, in some order.
  const sorted = [...entries].sort((a, b) => a.start - b.start || a.end - b.end);
  let cursor = dataStart;
  for (const entry of sorted) {
    if (entry.start < cursor)
      throw new SafetensorsFormatError(file, 'data overlaps another tensor', entry.name);
    if (entry.start > cursor)
      throw new SafetensorsFormatError(file, 'hole in the data before this tensor', entry.name);
    cursor = entry.end;
  }
  if (cursor !== dataStart + dataLength) {
    throw new SafetensorsFormatError(file, `tensors cover ${cursor - dataStart} of ${dataLength} data bytes`);
  }
  return { file, entries, metadata, dataStart };
}

/** Reads and validates only the header of a safetensors file. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const handle = await openForRead(file);
  try {
    return await readHeaderFrom(handle, file);
  } finally {
    await handle.close();
  }
}

/**
 * Reads float tensors (F32, F16, BF16) of a safetensors file into float32 host tensors.
 * @param options.names - read only these tensors (default: all)
 */
export async function readSafetensors(
  file: string,
  options: { names?: ReadonlySet<string> } = {},
): Promise<{ tensors: Map<string, HostTensor>; header: SafetensorsHeader }> {
  const handle = await openForRead(file);
  try {
    const header = await readHeaderFrom(handle, file);
    const tensors = new Map<string, HostTensor>();
    for (const entry of header.entries) {
      if (options.names && !options.names.has(entry.name)) continue;
      const dtype = FLOAT_DTYPES[entry.dtype];
      if (dtype === undefined) {
        throw new SafetensorsFormatError(
          file,
          `dtype ${entry.dtype} is not a float type (F32, F16, BF16)`,
          entry.name,
        );
      }
      const length = entry.end - entry.start;
      let data: Float32Array;
      if (dtype === 'float32') {
        // read straight into the result: no second copy of the largest tensors
        data = new Float32Array(length / 4);
        await readFully(handle, new Uint8Array(data.buffer), entry.start, file, entry.name);
      } else {
        const bytes = new Uint8Array(length);
        await readFully(handle, bytes, entry.start, file, entry.name);
        data = toFloat32(bytes, dtype);
      }
      tensors.set(entry.name, { shape: [...entry.shape], data });
    }
    return { tensors, header };
  } finally {
    await handle.close();
  }
}

/**
 * Writes tensors as a safetensors file (names sorted, header padded with spaces to 8 bytes as the
 * reference writer does), converting float32 to `dtype` (round-to-nearest-even for F16/BF16).
 */
export async function writeSafetensors(
  file: string,
  tensors: ReadonlyMap<string, HostTensor>,
  options: { dtype?: WeightDtype; metadata?: Record<string, string> } = {},
): Promise<void> {
  const dtype = options.dtype ?? 'float32';
  const elementBytes = dtype === 'float32' ? 4 : 2;
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (options.metadata !== undefined) header.__metadata__ = options.metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name)!;
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    if (count !== tensor.data.length) {
      throw new SafetensorsFormatError(
        file,
        `shape ${JSON.stringify(tensor.shape)} does not match ${tensor.data.length} values`,
        name,
      );
    }
    header[name] = {
      dtype: DTYPE_NAMES[dtype],
      shape: tensor.shape,
      data_offsets: [offset, offset + count * elementBytes],
    };
    offset += count * elementBytes;
  }
  let headerText = JSON.stringify(header);
  const headerLength = Buffer.byteLength(headerText);
  headerText += ' '.repeat((8 - (headerLength % 8)) % 8);
  const headerBytes = Buffer.from(headerText, 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerBytes.length));
  const handle = await open(file, 'w');
  try {
    await handle.write(prefix);
    await handle.write(headerBytes);
    for (const name of names) {
      const bytes = fromFloat32(tensors.get(name)!.data, dtype);
      for (let done = 0; done < bytes.length; done += READ_CHUNK) {
        await handle.write(bytes, done, Math.min(READ_CHUNK, bytes.length - done));
      }
    }
  } finally {
    await handle.close();
  }
}

/** Converts little-endian F32/F16/BF16 bytes to float32 values. */
export function toFloat32(bytes: Uint8Array, dtype: WeightDtype): Float32Array {
  if (dtype === 'float32') {
    const out = new Float32Array(bytes.length / 4);
    new Uint8Array(out.buffer).set(bytes); // copy also fixes alignment
    return out;
  }
  const halves = new Uint16Array(bytes.length / 2);
  new Uint8Array(halves.buffer).set(bytes);
  const out = new Float32Array(halves.length);
  if (dtype === 'bfloat16') {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) bits[i] = halves[i]! << 16;
  } else {
    for (let i = 0; i < halves.length; i++) out[i] = halfToFloat(halves[i]!);
  }
  return out;
}

/** Converts float32 values to little-endian F32/F16/BF16 bytes (round to nearest even). */
export function fromFloat32(data: Float32Array, dtype: WeightDtype): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength); // a view
  const halves = new Uint16Array(data.length);
  if (dtype === 'bfloat16') {
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      const x = bits[i]!;
      if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) {
        halves[i] = (x >>> 16) | 0x40; // keep NaN a NaN
      } else {
        halves[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
    }
  } else {
    for (let i = 0; i < data.length; i++) halves[i] = floatToHalf(data[i]!);
  }
  return new Uint8Array(halves.buffer);
}

/** IEEE binary16 bits → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** number → IEEE binary16 bits, round to nearest even, overflow to infinity. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let result = mantissa >>> shift;
    if (rest > half || (rest === half && (result & 1) === 1)) result += 1;
    return sign | result;
  }
  let result = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (result & 1) === 1)) result += 1; // may carry into the exponent: correct
  return sign | result;
}

type Handle = Awaited<ReturnType<typeof open>>;

/** One read or write call moves at most 2 GiB; larger tensors (a 150k × 3584 embedding) take several. */
const READ_CHUNK = 1 << 30;

async function readFully(
  handle: Handle,
  target: Uint8Array,
  position: number,
  file: string,
  tensor: string,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(READ_CHUNK, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) throw new SafetensorsFormatError(file, 'file ended inside the tensor', tensor);
    done += bytesRead;
  }
}

async function openForRead(file: string): Promise<Handle> {
  try {
    return await open(file, 'r');
  } catch (error) {
    throw new MissingFileError(file, `cannot open: ${(error as Error).message}`, { cause: error });
  }
}

async function readHeaderFrom(handle: Handle, file: string): Promise<SafetensorsHeader> {
  const { size } = await handle.stat();
  if (size < 8)
    throw new SafetensorsFormatError(file, `file is ${size} bytes, shorter than the 8-byte header length`);
  const prefix = Buffer.alloc(8);
  await handle.read(prefix, 0, 8, 0);
  const headerLength = prefix.readBigUInt64LE(0);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
    throw new SafetensorsFormatError(
      file,
      `header length ${headerLength} exceeds the file size (${size} bytes) or the limit`,
    );
  }
  const headerBytes = Buffer.alloc(Number(headerLength));
  await handle.read(headerBytes, 0, headerBytes.length, 8);
  return parseSafetensorsHeader(file, headerBytes, size - 8 - headerBytes.length);
}
