// Element types the builder knows, with their ONNX TensorProto.DataType codes and the typed
// arrays onnxruntime-node uses for them.

/** Element type of a graph value. */
export type DType = 'float32' | 'float64' | 'float16' | 'int64' | 'int32' | 'bool';

/** ONNX `TensorProto.DataType` enum values (onnx.proto3). */
export const ONNX_DTYPE = {
  float32: 1,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const satisfies Record<DType, number>;

/** Whether values of this type can carry gradients. */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

/** The onnxruntime tensor type name of a dtype. */
export const ORT_TYPE = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
} as const satisfies Record<DType, string>;
