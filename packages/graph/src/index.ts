// @sr1/graph: a small compiler from TypeScript-built graphs to ONNX, with shape checking at build
// time, reverse-mode autodiff emitted as standard ONNX ops, and onnxruntime-node sessions.
// Modules (biome keeps exports sorted by path): autodiff, gradient-check, gradient-rules: the
// autodiff and its checks; dtype, graph, shape: building graphs; onnx-model, optimize, prune:
// serialisation; session: running; errors: the typed errors.

export type { GradientOptions, GradientTarget } from './autodiff.js';
export { gradients } from './autodiff.js';
export type { DType } from './dtype.js';
export { bfloat16Bits, DTYPE_BYTES, float16Bits, fromHalfBits, isFloat, ONNX_DTYPE } from './dtype.js';
export { DeviceUnavailableError, GradientError, GraphBuildError, GraphShapeError } from './errors.js';
export type { GradientCheckOptions, GradientCheckResult, GradientMismatch } from './gradient-check.js';
export { checkGradients, randomProjection } from './gradient-check.js';
export type { EmbeddingGradient, GradientContext, GradientRule } from './gradient-rules.js';
export { GRADIENT_RULES, sumToShape } from './gradient-rules.js';
export type {
  Attribute,
  ConstantData,
  GraphInput,
  InputOptions,
  LoopBodyInputs,
  LoopBodyOutputs,
  LoopOptions,
  Node,
  OpType,
  Tensor,
} from './graph.js';
export { Graph, typedArrayOf } from './graph.js';
export type { ExternalDataOptions, SerializeOptions } from './onnx-model.js';
export {
  DEFAULT_OPSET,
  decodeModel,
  onnxSchema,
  serializeGraph,
  serializeGraphWithExternalData,
  toModelProto,
  valuesByName,
  writeModel,
} from './onnx-model.js';
export type { FlatGraph, FlatNode, OptimizeStats } from './optimize.js';
export { flattenGraph, optimizeGraph } from './optimize.js';
export type { PrunedGraph } from './prune.js';
export { pruneGraph } from './prune.js';
export type { Device, GraphSession, HostValue, SessionOptions, TransferLedger } from './session.js';
export { createSession, missingCudaLibraries, ortBindingDir } from './session.js';
export type { Dim, Shape } from './shape.js';
export { addDims, broadcastShapes, canonicalDim, formatShape, sameDim } from './shape.js';
