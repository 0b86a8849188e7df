// @sr1/model: qwen2/llama decoders — HF model folders, safetensors, tokenizers, generation,
// scoring and GGUF export, written against the DecoderRunner seam that the graphs implement.
// biome-ignore-all assist/source/organizeImports: exports are grouped by topic, not sorted by path

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
  MissingFileError,
  ModelConfigError,
  ModelFolderExistsError,
  SafetensorsFormatError,
  TokenizerError,
  WeightShapeError,
} from './errors.js';

// Config
export type { DecoderMemoryEstimate, ParseConfigOptions } from './config.js';
export {
  checkDecoderFitsMemory,
  decoderConfigToHfJson,
  estimateDecoderMemory,
  loadDecoderConfig,
  MAX_TENSOR_ELEMENTS,
  parseDecoderConfig,
  SUPPORTED_MODEL_TYPES,
} from './config.js';

// Safetensors
export type { SafetensorsEntry, SafetensorsHeader } from './safetensors.js';
export { readSafetensors, readSafetensorsHeader, writeSafetensors } from './safetensors.js';

// Weights and model folders
export type { WeightRole, WeightSpec } from './weights.js';
export {
  cloneWeights,
  countParameters,
  expectedWeights,
  INITIALIZER_RANGE,
  initWeights,
  validateWeights,
} from './weights.js';
export type {
  LoadedModel,
  SaveModelFolderAtomicallyOptions,
  SaveModelOptions,
} from './model-folder.js';
export {
  loadModelFolder,
  loadWeights,
  saveModelFolder,
  saveModelFolderAtomically,
  TOKENIZER_FILES,
} from './model-folder.js';

// Tokenizers
export type { ChatMessage, Tokenizer } from './tokenizer.js';
export { createTokenizer, loadTokenizer } from './tokenizer.js';
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
export { readTokenizerTrainingTexts, SEARCH_R1_INSTRUCTION } from './tokenizer-corpus.js';

// Generation and scoring
export type { SampledToken, SamplingParams } from './sampling.js';
export { logProbAndEntropy, logSoftmaxAt, sampleToken, validateSamplingParams } from './sampling.js';
export type { FinishReason, GeneratedSequence, GenerateOptions, GeneratePrompt } from './generate.js';
export { GenerationAbortedError, generate } from './generate.js';
export type { ScoredSequence, ScoreOptions } from './score.js';
export { scoreSequences } from './score.js';

// Inference off the main thread: continuous batching with KV reuse across turns, the engine worker
export type {
  SchedulerOptions,
  SchedulerStats,
  SchedulerTokenizer,
  StartOptions,
  StaticCacheRunner,
  TurnOptions,
  TurnResult,
} from './inference/scheduler.js';
export { ContinuousBatchScheduler, SessionBusyError, UnknownSessionError } from './inference/scheduler.js';
export type { EngineWorkerOptions, WorkerGenerateOptions } from './inference/worker-client.js';
export { defaultWorkerUrl, EngineWorker, EngineWorkerError } from './inference/worker-client.js';
export type { SharedWeight } from './inference/shared-weights.js';
export { isShared, shareWeights } from './inference/shared-weights.js';
export type { SessionEngine, SessionGeneratorOptions } from './inference/session-generator.js';
export { sessionGenerator } from './inference/session-generator.js';

// Engines (the ort runner from src/graphs; a slow exact float64 reference runner for tests and parity)
export type { CreateRunnerOptions, EngineName } from './engine.js';
export { createRunner, ENGINE_NAMES } from './engine.js';
export type { ReferenceRunnerStats } from './reference-runner.js';
export { ReferenceDecoderRunner } from './reference-runner.js';

// GGUF export
export type { GgufFile, GgufTensor, GgufTokenizer, GgufValue } from './gguf.js';
export {
  exportGguf,
  ggufMetadata,
  ggufTensorName,
  ggufTensors,
  permuteForLlamaRope,
  readGguf,
  readGgufTokenizer,
  writeGguf,
} from './gguf.js';

// Training: the decoder as a trainable policy (per-token log-probs/entropies, upstream gradients)
export type { OrtPolicyOptions, PolicyTokenBatch, PolicyUpstream } from './training/ort-policy.js';
export { OrtTrainablePolicy } from './training/ort-policy.js';
// The plain float64 reference forward (the oracle of the compiled graphs)
export type { ReferenceForward } from './reference/reference-decoder.js';
export { referenceForward, referenceLogProbs } from './reference/reference-decoder.js';
// The compiled decoder graphs and their onnxruntime-node runner
export type {
  DecoderGraph,
  DecoderGraphOptions,
  DecoderMode,
  OrtDecoderRunnerOptions,
  TrainObjective,
} from './graphs/index.js';
export { buildDecoderGraph, DECODER_NAMES, OrtDecoderRunner } from './graphs/index.js';

// Serving: an OpenAI-compatible /v1/completions endpoint over the engine
export type { ServeOptions } from './serve.js';
export { serveModel } from './serve.js';
export { OrtCritic } from './training/ort-critic.js';
