// @sr1/model: qwen2/llama decoders — HF model folders, safetensors, tokenizers, generation,
// scoring and GGUF export, written against the DecoderRunner seam that the graphs implement.

export type { TrainBpeOptions, TrainedTokenizer } from './bpe-trainer.js';
export {
  bytesToUnicode,
  CHATML_SPECIAL_TOKENS,
  CHATML_TEMPLATE,
  preTokenize,
  QWEN2_PRETOKENIZE_PATTERN,
  saveTrainedTokenizer,
  trainBpeTokenizer,
} from './bpe-trainer.js';
// Config
export type { ParseConfigOptions } from './config.js';
export {
  decoderConfigToHfJson,
  loadDecoderConfig,
  parseDecoderConfig,
  SUPPORTED_MODEL_TYPES,
} from './config.js';
// The seam
export type {
  DecoderConfig,
  DecoderRunner,
  ForwardInputs,
  ForwardOutputs,
  HostTensor,
  KvCache,
  WeightDtype,
  WeightMap,
} from './engine-types.js';
// Errors
export {
  CliUsageError,
  EngineNotBuiltError,
  MissingFileError,
  ModelConfigError,
  SafetensorsFormatError,
  TokenizerError,
  WeightShapeError,
} from './errors.js';
export type { FinishReason, GeneratedSequence, GenerateOptions, GeneratePrompt } from './generate.js';
export { generate } from './generate.js';
export type { LoadedModel, SaveModelOptions } from './model-folder.js';
export { loadModelFolder, loadWeights, saveModelFolder, TOKENIZER_FILES } from './model-folder.js';
// A slow exact runner over the float64 reference forward (tests, parity checks, tiny models)
export type { ReferenceRunnerStats } from './reference-runner.js';
export { ReferenceDecoderRunner } from './reference-runner.js';
// Safetensors
export type { SafetensorsEntry, SafetensorsHeader } from './safetensors.js';
export { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.js';
// Generation and scoring
export type { SampledToken, SamplingParams } from './sampling.js';
export { logProbAndEntropy, logSoftmaxAt, sampleToken, validateSamplingParams } from './sampling.js';
export type { ScoredSequence, ScoreOptions } from './score.js';
export { scoreSequences } from './score.js';
// Tokenizers
export type { ChatMessage, Tokenizer } from './tokenizer.js';
export { createTokenizer, loadTokenizer } from './tokenizer.js';
export { readTokenizerTrainingTexts, SEARCH_R1_INSTRUCTION } from './tokenizer-corpus.js';
// Weights and model folders
export type { WeightRole, WeightSpec } from './weights.js';
export {
  countParameters,
  expectedWeights,
  INITIALIZER_RANGE,
  initWeights,
  validateWeights,
} from './weights.js';
