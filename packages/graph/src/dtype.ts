// Element types the builder knows, with their ONNX TensorProto.DataType codes and the typed
// arrays onnxruntime-node uses for them. The half types hold their bits in a Uint16Array.

/** Element type of a graph value. */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool';

/** ONNX `TensorProto.DataType` enum values (onnx.proto3). */
export const ONNX_DTYPE = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
} as const satisfies Record<DType, number>;

/** Whether values of this type can carry gradients. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16' || dtype === 'bfloat16';
}

/**
 * The onnxruntime tensor type name of a dtype. onnxruntime-node 1.30 has no bfloat16 tensors: a
 * bfloat16 value can live inside a graph but cannot be a graph input or output (the session
 * fails to load).
 */
export const ORT_TYPE = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
} as const satisfies Record<DType, string>;

/** Bytes per element of a dtype (bool: one byte, as ONNX and onnxruntime store it). */
export const DTYPE_BYTES = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  bool: 1,
} as const satisfies Record<DType, number>;

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** The IEEE binary16 bits of `value`, rounded to nearest even (overflow → ±Infinity). */
export function float16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0); // Inf, NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let bits = m >>> shift;
    if (rest > half || (rest === half && (bits & 1) === 1)) bits += 1;
    return sign | bits;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1) === 1)) bits += 1; // may carry into the exponent: still right
  return sign | bits;
}

/** The bfloat16 bits of `value` (the high half of its float32 bits), rounded to nearest even. */
export function bfloat16Bits(value: number): number {
  scratch[0] = value;
  const x = scratchBits[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return (x >>> 16) | 0x40; // NaN stays NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The number that half bits stand for (`dtype` 'float16' or 'bfloat16'). */
export function fromHalfBits(bits: number, dtype: 'float16' | 'bfloat16'): number {
  if (dtype === 'bfloat16') {
    scratchBits[0] = bits << 16;
    return scratch[0]!;
  }
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}
