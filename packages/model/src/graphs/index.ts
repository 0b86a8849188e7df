// The decoder graphs and their ORT runner; re-exported from @sr1/model's index.

export type { DecoderGraph, DecoderGraphOptions, DecoderMode, TrainObjective } from './decoder-graph.js';
export { buildDecoderGraph, DECODER_NAMES } from './decoder-graph.js';
export type { OrtDecoderRunnerOptions } from './ort-decoder-runner.js';
export { OrtDecoderRunner } from './ort-decoder-runner.js';
