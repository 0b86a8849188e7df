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
export type { DecoderMemoryEstimate, ParseConfigOptions } from './formats/config.js';
export {
  checkDecoderFitsMemory,
  decoderConfigToHfJson,
  estimateDecoderMemory,
  loadDecoderConfig,
  MAX_TENSOR_ELEMENTS,
  parseDecoderConfig,
  SUPPORTED_MODEL_TYPES,
} from './formats/config.js';

// Safetensors
export type { SafetensorsEntry, SafetensorsHeader } from './formats/safetensors.js';
export { readSafetensors, readSafetensorsHeader, writeSafetensors } from './formats/safetensors.js';

// Weights and model folders
export type { WeightRole, WeightSpec } from './formats/weights.js';
export {
  cloneWeights,
  countParameters,
  expectedWeights,
  INITIALIZER_RANGE,
  initWeights,
  validateWeights,
} from './formats/weights.js';
export type {
  LoadedModel,
  SaveModelFolderAtomicallyOptions,
  SaveModelOptions,
} from './formats/model-folder.js';
export {
  loadModelFolder,
  loadWeights,
  saveModelFolder,
  saveModelFolderAtomically,
  TOKENIZER_FILES,
} from './formats/model-folder.js';

// Tokenizers
export type { ChatMessage, Tokenizer } from './tokenizer/tokenizer.js';
export { createTokenizer, loadTokenizer } from './tokenizer/tokenizer.js';
export type { TrainBpeOptions, TrainedTokenizer } from './tokenizer/bpe-trainer.js';
export {
  bytesToUnicode,
  CHATML_SPECIAL_TOKENS,
  CHATML_TEMPLATE,
  preTokenize,
  QWEN2_PRETOKENIZE_PATTERN,
  saveTrainedTokenizer,
  trainBpeTokenizer,
} from './tokenizer/bpe-trainer.js';
export { readTokenizerTrainingTexts, SEARCH_R1_INSTRUCTION } from './tokenizer/tokenizer-corpus.js';

// Generation and scoring
export type { SampledToken, SamplingParams } from './inference/sampling.js';
export {
  logProbAndEntropy,
  logSoftmaxAt,
  sampleToken,
  validateSamplingParams,
} from './inference/sampling.js';
export type {
  FinishReason,
  GeneratedSequence,
  GenerateOptions,
  GeneratePrompt,
} from './inference/generate.js';
export { GenerationAbortedError, generate } from './inference/generate.js';
export type { ScoredSequence, ScoreOptions } from './inference/score.js';
export { scoreSequences } from './inference/score.js';

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
export type { CreateRunnerOptions, EngineName } from './inference/engine.js';
export { createRunner, ENGINE_NAMES } from './inference/engine.js';
export type { ReferenceRunnerStats } from './reference/reference-runner.js';
export { ReferenceDecoderRunner } from './reference/reference-runner.js';

// GGUF export
export type { GgufFile, GgufTensor, GgufTokenizer, GgufValue } from './formats/gguf.js';
export {
  exportGguf,
  ggufMetadata,
  ggufTensorName,
  ggufTensors,
  permuteForLlamaRope,
  readGguf,
  readGgufTokenizer,
  writeGguf,
} from './formats/gguf.js';

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
export type { ServeOptions } from './serving/serve.js';
export { serveModel } from './serving/serve.js';
export { OrtCritic } from './training/ort-critic.js';
