// @sr1/model: qwen2/llama decoders — HF model folders, safetensors, tokenizers, generation,
// scoring, training, serving and GGUF export, written against the DecoderRunner seam that the
// graphs implement. Only what users need is public: the graph builders, the BPE trainer's
// internals, GGUF tensor naming and the sampling kernels stay inside the package.
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
  DecoderInputError,
  EngineInvariantError,
  GgufFormatError,
  InferenceServerError,
  MissingFileError,
  ModelConfigError,
  ModelFolderExistsError,
  PrecisionError,
  SafetensorsFormatError,
  ServingInputError,
  TokenizerError,
  WeightShapeError,
} from './errors.js';

// Formats: config.json, safetensors, weights, HF model folders, GGUF
export type { DecoderMemoryEstimate, ParseConfigOptions } from './formats/config.js';
export {
  checkDecoderFitsMemory,
  decoderConfigToHfJson,
  estimateDecoderMemory,
  loadDecoderConfig,
  parseDecoderConfig,
  SUPPORTED_MODEL_TYPES,
} from './formats/config.js';
export type { SafetensorsEntry, SafetensorsHeader } from './formats/safetensors.js';
export { readSafetensors, readSafetensorsHeader, writeSafetensors } from './formats/safetensors.js';
export type { WeightRole, WeightSpec } from './formats/weights.js';
export {
  cloneWeights,
  countParameters,
  expectedWeights,
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
export type { GgufFile, GgufTensor, GgufTokenizer, GgufValue } from './formats/gguf.js';
export { exportGguf, readGguf, readGgufTokenizer, writeGguf } from './formats/gguf.js';

// Tokenizers: loading, and training a byte-level BPE one
export type { ChatMessage } from '@sr1/spec';
export type { ModelTokenizer } from './tokenizer/tokenizer.js';
export { createTokenizer, loadTokenizer } from './tokenizer/tokenizer.js';
export type { TrainBpeOptions, TrainedTokenizer } from './tokenizer/bpe-trainer.js';
export { saveTrainedTokenizer, trainBpeTokenizer } from './tokenizer/bpe-trainer.js';
export { readTokenizerTrainingTexts } from './tokenizer/tokenizer-corpus.js';

// Inference: engines, generation and scoring
export type { CreateRunnerOptions, EngineName } from './inference/engine.js';
export { createRunner, ENGINE_NAMES } from './inference/engine.js';
export type { SamplingOptions, SamplingParams } from './inference/sampling.js';
export type {
  FinishReason,
  GeneratedSequence,
  GenerateOptions,
  GeneratePrompt,
} from './inference/generate.js';
export { GenerationAbortedError, generate } from './inference/generate.js';
export type { ScoredSequence, ScoreOptions } from './inference/score.js';
export { scoreSequences } from './inference/score.js';
// Generation in one run per batch: weights held by the session, decode steps in an ONNX Loop
export type {
  LoopDecoderOptions,
  LoopGeneratedSequence,
  LoopGenerateOptions,
} from './inference/loop-decoder.js';
export { LoopDecoder } from './inference/loop-decoder.js';
// Off the main thread: continuous batching with KV reuse across turns, the engine worker
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
export { EngineWorker, EngineWorkerError } from './inference/worker-client.js';
export type { SharedWeight } from './inference/shared-weights.js';
export { shareWeights } from './inference/shared-weights.js';
export type { SessionEngine, SessionGeneratorOptions } from './inference/session-generator.js';
export { sessionGenerator } from './inference/session-generator.js';

// The compiled decoder on onnxruntime-node, and the slow exact float64 runner for tests and parity
export type { KvBuffer, OrtDecoderRunnerOptions, Precision } from './graphs/index.js';
export { checkPrecision, kvCacheDtype, OrtDecoderRunner, PRECISIONS } from './graphs/index.js';
export type { ReferenceRunnerStats } from './reference/reference-runner.js';
export { ReferenceDecoderRunner } from './reference/reference-runner.js';

// Training: the decoder as a trainable policy (per-token log-probs/entropies, upstream gradients)
// and as a value critic
export type { OrtPolicyOptions } from './training/types.js';
export type { TrainLedger } from './training/train-sessions.js';
export { OrtTrainablePolicy } from './training/ort-policy.js';
export { OrtCritic } from './training/ort-critic.js';
// The same, off the main thread: sessions in a worker_thread, weights shared (shareWeights)
export type { TrainWorkerOptions, WorkerPolicyOptions } from './training/worker-policy.js';
export { TrainWorker, WorkerCritic, WorkerTrainablePolicy } from './training/worker-policy.js';

// Serving: the one engine→Generator adapter, an OpenAI-compatible /v1/completions server over any
// Generator and its client, and `sr1-model serve` (the engine behind that server)
export type {
  EngineGenerateFn,
  EngineGenerateOptions,
  EngineGeneratorOptions,
  EngineSequence,
} from './serving/generator-from-engine.js';
export { generatorFromEngine } from './serving/generator-from-engine.js';
export type { CompletionChoice, OpenAICompletionsGeneratorOptions } from './serving/openai-generator.js';
export { OpenAICompletionsGenerator, parseCompletionChoice } from './serving/openai-generator.js';
export type { CompletionsServer, CompletionsServerOptions } from './serving/openai-server.js';
export { startCompletionsServer } from './serving/openai-server.js';
export type { ServeOptions } from './serving/serve.js';
export { serveModel } from './serving/serve.js';
