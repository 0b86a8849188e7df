// The decoder graphs (built by decoder-graph.ts from the attention, MLP and block builders) and
// their ORT runner; @sr1/model's index exports only the runner.

export type { DecodeLoopGraph, DecodeLoopGraphOptions } from './decode-loop-graph.js';
export { buildDecodeLoopGraph, DECODE_LOOP_NAMES } from './decode-loop-graph.js';
export type { DecoderGraph, DecoderGraphOptions, DecoderMode, TrainObjective } from './decoder-graph.js';
export { buildDecoderGraph, DECODER_NAMES } from './decoder-graph.js';
export type { KvBuffer, OrtDecoderRunnerOptions } from './ort-decoder-runner.js';
export { OrtDecoderRunner } from './ort-decoder-runner.js';
export type { Precision } from './precision.js';
export { checkPrecision, kvCacheDtype, PRECISIONS } from './precision.js';
