// Picks the DecoderRunner that executes a loaded model: the compiled ONNX graphs on
// onnxruntime-node ('ort'), or the slow exact float64 reference ('reference', for tiny models).

import { lookupVariant } from '@sr1/core';
import type { DecoderRunner } from '../engine-types.js';
import type { LoadedModel } from '../formats/model-folder.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { ReferenceDecoderRunner } from '../reference/reference-runner.js';

/** Names of the engines `createRunner` knows. */
export type EngineName = 'ort' | 'reference';

export interface CreateRunnerOptions {
  engine?: EngineName;
  /** 'cpu' or 'cuda' (ort only). */
  device?: 'cpu' | 'cuda';
}

const ENGINES = {
  ort: (model: LoadedModel, options: CreateRunnerOptions): Promise<DecoderRunner> =>
    OrtDecoderRunner.create(model.config, model.weights, { device: options.device ?? 'cpu' }),
  reference: async (model: LoadedModel): Promise<DecoderRunner> =>
    new ReferenceDecoderRunner(model.config, model.weights),
} satisfies Record<EngineName, (model: LoadedModel, options: CreateRunnerOptions) => Promise<DecoderRunner>>;

/** The names `createRunner` accepts, for help texts. */
export const ENGINE_NAMES = Object.keys(ENGINES) as EngineName[];

/** A runner for a loaded model (default engine: 'ort'). */
export async function createRunner(
  model: LoadedModel,
  options: CreateRunnerOptions = {},
): Promise<DecoderRunner> {
  const factory = lookupVariant(ENGINES, options.engine ?? 'ort', 'engine', 'engine');
  return factory(model, options);
}
