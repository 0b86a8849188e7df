// Typed errors for model folders, weight files and the engine: every bad input names the file and
// the field or tensor that is wrong, so a broken checkpoint never surfaces as a stack trace.

import { InvalidInputError, Sr1Error } from '@sr1/core';

/** A `config.json` / `generation_config.json` field that is missing, of the wrong type or unsupported. */
export class ModelConfigError extends InvalidInputError {
  constructor(file: string, field: string, reason: string) {
    super({ code: 'model_config', file, field, reason });
  }
}

/** A required file of a model or tokenizer folder does not exist or cannot be read. */
export class MissingFileError extends InvalidInputError {
  constructor(file: string, reason = 'file not found', options?: { cause?: unknown }) {
    super({ code: 'missing_file', file, reason }, options);
  }
}

/** A `.safetensors` file whose header or data is malformed; `field` names the tensor when known. */
export class SafetensorsFormatError extends InvalidInputError {
  constructor(file: string, reason: string, tensor?: string) {
    super({ code: 'safetensors_format', file, ...(tensor !== undefined ? { field: tensor } : {}), reason });
  }
}

/** A weight that is missing, unexpected or of the wrong shape for the config; `file` when known. */
export class WeightShapeError extends InvalidInputError {
  constructor(file: string | undefined, tensor: string, reason: string) {
    super({ code: 'weight_shape', ...(file !== undefined ? { file } : {}), field: tensor, reason });
  }
}

/** A `.gguf` file that cannot be read; `field` names the tensor or metadata key when known. */
export class GgufFormatError extends InvalidInputError {
  constructor(file: string | undefined, reason: string, field?: string) {
    super({
      code: 'gguf_format',
      ...(file !== undefined ? { file } : {}),
      ...(field !== undefined ? { field } : {}),
      reason,
    });
  }
}

/** Inputs a decoder runner cannot take: token ids outside the vocabulary, a mask or cache of the wrong shape. */
export class DecoderInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'decoder_input', field, reason });
  }
}

/** An internal invariant of the engine broke; the message says what was expected. */
export class EngineInvariantError extends Sr1Error {
  constructor(message: string) {
    super('engine_invariant', message);
  }
}

/** A tokenizer folder or tokenizer JSON that cannot be used. */
export class TokenizerError extends InvalidInputError {
  constructor(file: string, reason: string, field?: string) {
    super({ code: 'tokenizer', file, ...(field !== undefined ? { field } : {}), reason });
  }
}

/** A model folder that would be overwritten (or a file where a folder should go). */
export class ModelFolderExistsError extends InvalidInputError {
  constructor(dir: string, reason: string) {
    super({ code: 'model_folder_exists', file: dir, reason });
  }
}

/** An option of a serving client or server that is not usable (e.g. a `baseUrls` entry that is not a URL). */
export class ServingInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'serving_input', field, reason });
  }
}

/** An inference server answered with an error or a body the client cannot read. */
export class InferenceServerError extends Sr1Error {
  readonly url: string;
  readonly status: number | undefined;
  constructor(url: string, message: string, options: { status?: number; cause?: unknown } = {}) {
    super(
      'inference_server',
      `${url}: ${message}`,
      options.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.url = url;
    this.status = options.status;
  }
}

/** A command-line flag with a missing or malformed value (the shared command layer's error). */
export { CliUsageError } from '@sr1/core';

/**
 * A compute precision the device cannot run (bfloat16 on onnxruntime-node's CPU provider, which
 * has no bfloat16 MatMul) or that is not one of the known names; `field` names the option.
 */
export class PrecisionError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'precision', field, reason });
  }
}
