// `sr1-bench perf --only ledger` (issue #15): the bytes a GPU run would copy between host and
// device, read from the transfer ledger of the sessions that do the work (onnxruntime-node has CPU
// tensors only, so on CUDA every fed input and fetched output crosses the bus). Two rows:
// - ledger-decode: LoopDecoder (weights held by the session, every decode step in one Loop run)
//   at batch 32, bytes per decode step over the weights' bytes (target ≤ 0.01); the step engine
//   (OrtDecoderRunner, weights and KV cache fed each step) measured the same way for comparison;
// - ledger-train: OrtTrainablePolicy's SFT optimizer step (one gradient-graph run per micro-batch,
//   AdamW on the host), bytes over weights + AdamW state (target ≤ 3);
// - ledger-decode-25m: ledger-decode's measurement on the llama-cpp benchmark's 25.2M model.

import { createRng } from '@sr1/core';
import {
  countParameters,
  type DecoderConfig,
  initWeights,
  LoopDecoder,
  OrtDecoderRunner,
  OrtTrainablePolicy,
  type WeightMap,
} from '@sr1/model';
import type { MeasuredRow } from './perf-report.js';

/**
 * Qwen2.5-0.5B's shape, from its config.json (Qwen/Qwen2.5-0.5B on the Hugging Face hub): 494 M
 * parameters, 1.98 GB of float32 weights.
 */
export const QWEN25_05B: DecoderConfig = {
  modelType: 'qwen2',
  vocabSize: 151936,
  hiddenSize: 896,
  intermediateSize: 4864,
  numHiddenLayers: 24,
  numAttentionHeads: 14,
  numKeyValueHeads: 2,
  headDim: 64,
  ropeTheta: 1000000,
  rmsNormEps: 1e-6,
  tieWordEmbeddings: true,
  attentionBias: true,
  outputBias: false,
  mlpBias: false,
  maxPositionEmbeddings: 32768,
  bosTokenId: null,
  eosTokenIds: [151643],
};

/** How rows name the llama-cpp benchmark's model (benchModelConfig(512, 8) in @sr1/model's llama-cpp-speed.mjs). */
export const BENCH_MODEL_NAME = "the llama-cpp benchmark's random Qwen2 (hidden 512, 8 layers, vocab 2048)";

/** What the ledger benchmark runs. */
export interface LedgerPerfSizes {
  /** The model, and how the rows name it. */
  model: { name: string; config: DecoderConfig };
  decode: {
    batch: number;
    promptLength: number;
    /** Decode steps in LoopDecoder's one run. */
    steps: number;
    /** Decode steps of the step engine (each a run; the bytes per step barely change). */
    peerSteps: number;
  };
  /** One optimizer step: `microBatches` runs of the gradient graph over batch × length tokens. */
  train: { microBatches: number; batch: number; length: number };
}

export const LEDGER_PERF_SIZES = {
  full: {
    model: { name: 'Qwen2.5-0.5B shape', config: QWEN25_05B },
    decode: { batch: 32, promptLength: 16, steps: 16, peerSteps: 2 },
    train: { microBatches: 1, batch: 1, length: 32 },
  },
  quick: {
    model: {
      name: 'a small Qwen2 (hidden 256, 2 layers, vocab 8192)',
      config: {
        ...QWEN25_05B,
        vocabSize: 8192,
        hiddenSize: 256,
        intermediateSize: 704,
        numHiddenLayers: 2,
        numAttentionHeads: 4,
        numKeyValueHeads: 2,
        eosTokenIds: [8191],
      },
    },
    decode: { batch: 32, promptLength: 16, steps: 8, peerSteps: 2 },
    train: { microBatches: 1, batch: 1, length: 32 },
  },
} satisfies Record<'full' | 'quick', LedgerPerfSizes>;

/** What the decode measurement of one model read from the ledgers. */
export interface DecodeLedgerResult {
  modelName: string;
  parameters: number;
  weightBytes: number;
  decode: {
    batch: number;
    promptLength: number;
    /** Tokens each row generated in LoopDecoder's run (its decode steps). */
    steps: number;
    /** LoopDecoder: bytes fed and fetched by the one run (prompts in, tokens and log-probs out). */
    bytesIn: number;
    bytesOut: number;
    /** The step engine: decode steps run and their bytes (weights and KV cache in, logits and new entries out). */
    peerSteps: number;
    peerBytes: number;
  };
}

/** The decode and train measurements of the main model. */
export interface LedgerResult extends DecodeLedgerResult {
  train: {
    microBatches: number;
    batch: number;
    length: number;
    /** Bytes of the optimizer step's runs (weights and ids in, log-probs and gradients out). */
    bytes: number;
  };
}

/** Bytes per decode step over the weights' bytes: LoopDecoder's and the step engine's. */
export function decodeRatios(result: DecodeLedgerResult): { sr1: number; peer: number } {
  const { decode, weightBytes } = result;
  return {
    sr1: (decode.bytesIn + decode.bytesOut) / decode.steps / weightBytes,
    peer: decode.peerBytes / decode.peerSteps / weightBytes,
  };
}

/** Bytes per optimizer step over weights + AdamW's two moments (3 × the weights in float32). */
export function trainRatio(result: LedgerResult): number {
  return result.train.bytes / (3 * result.weightBytes);
}

const megabytes = (bytes: number) =>
  `${(bytes / 1e6).toLocaleString('en-US', { maximumFractionDigits: 1 })} MB`;
const grouped = (value: number) => value.toLocaleString('en-US');

const modelText = (result: DecodeLedgerResult) =>
  `${result.modelName} (${grouped(result.parameters)} parameters, ${megabytes(result.weightBytes)} of float32 weights)`;

/** A decode row: LoopDecoder's bytes per decode step over the weights, the step engine's in the text. */
export function decodeRow(result: DecodeLedgerResult, id: string): MeasuredRow {
  const { decode } = result;
  const ratios = decodeRatios(result);
  const perStep = (decode.bytesIn + decode.bytesOut) / decode.steps;
  return {
    id,
    what:
      `host↔device bytes per decode step over the weights' bytes, from the transfer ledger: LoopDecoder ` +
      `(weights as session initializers, ${decode.steps} decode steps in one ONNX Loop run, KV cache in the run) ` +
      `on ${modelText(result)}, batch ${decode.batch}, prompt ${decode.promptLength} tokens: ${grouped(Math.round(perStep))} B/step ` +
      `(${grouped(decode.bytesIn)} B in, ${grouped(decode.bytesOut)} B out per run). The step engine ` +
      `(OrtDecoderRunner: weights and KV cache fed every step) moves ${ratios.peer.toFixed(3)} × weights per ` +
      `decode step (${decode.peerSteps} steps measured). Target ≤ 0.01`,
    sr1: { value: ratios.sr1, unit: '× weights' },
    peer: null,
    better: 'lower',
  };
}

/** The main rows of the ledger benchmark: ledger-decode and ledger-train. */
export function ledgerRows(result: LedgerResult): MeasuredRow[] {
  const { train } = result;
  const model = modelText(result);
  const steps = train.microBatches === 1 ? '1 micro-batch' : `${train.microBatches} micro-batches`;
  return [
    decodeRow(result, 'ledger-decode'),
    {
      id: 'ledger-train',
      what:
        `host↔device bytes per optimizer step over weights + AdamW state (3 × the float32 weights), from the ` +
        `transfer ledger: OrtTrainablePolicy's SFT step on ${model}, ${steps} of ${train.batch} × ${train.length} ` +
        `tokens (each one gradient-graph run: weights in, gradients out; AdamW on the host): ` +
        `${megabytes(train.bytes)} per step. Target ≤ 3`,
      sr1: { value: trainRatio(result), unit: '× (weights + AdamW state)' },
      peer: null,
      better: 'lower',
    },
  ];
}

function promptsOf(batch: number, length: number, vocab: number, seed: number): number[][] {
  const rng = createRng(seed);
  return Array.from({ length: batch }, () => Array.from({ length }, () => rng.int(vocab)));
}

function argMaxRows(logits: Float32Array, rows: number, vocab: number): number[] {
  return Array.from({ length: rows }, (_, b) => {
    let best = 0;
    for (let j = 1; j < vocab; j++) if (logits[b * vocab + j]! > logits[b * vocab + best]!) best = j;
    return best;
  });
}

/** The step engine's bytes over `steps` greedy decode steps after a prefill (the ledger of the steps only). */
async function measureStepEngine(
  config: DecoderConfig,
  weights: WeightMap,
  prompts: readonly number[][],
  steps: number,
  threads: number,
): Promise<number> {
  const runner = await OrtDecoderRunner.create(config, weights, { threads });
  try {
    const batch = prompts.length;
    const width = prompts[0]!.length; // equal lengths: no padding
    const mask = new BigInt64Array(batch * width).fill(1n);
    const positions = BigInt64Array.from({ length: batch * width }, (_, i) => BigInt(i % width));
    const prefill = await runner.prefill(
      {
        inputIds: BigInt64Array.from(prompts.flat().map(BigInt)),
        batchSize: batch,
        newLength: width,
        attentionMask: mask,
        positionIds: positions,
      },
      { lastOnly: true },
    );
    let cache = prefill.cache;
    let tokens = argMaxRows(prefill.logits, batch, config.vocabSize);
    runner.resetLedger();
    for (let step = 0; step < steps; step++) {
      const length = width + step + 1;
      const out = await runner.decode(
        {
          inputIds: BigInt64Array.from(tokens.map(BigInt)),
          batchSize: batch,
          newLength: 1,
          attentionMask: new BigInt64Array(batch * length).fill(1n),
          positionIds: new BigInt64Array(batch).fill(BigInt(length - 1)),
        },
        cache,
        { lastOnly: true },
      );
      cache = out.cache;
      tokens = argMaxRows(out.logits, batch, config.vocabSize);
    }
    const { bytesIn, bytesOut } = runner.ledger;
    return bytesIn + bytesOut;
  } finally {
    await runner.dispose();
  }
}

async function measureDecode(
  config: DecoderConfig,
  weights: WeightMap,
  sizes: LedgerPerfSizes['decode'],
  options: { threads: number; log: (line: string) => void },
): Promise<DecodeLedgerResult['decode']> {
  const { batch, promptLength, steps, peerSteps } = sizes;
  const { threads, log } = options;
  const prompts = promptsOf(batch, promptLength, config.vocabSize, 2);
  log(`ledger: LoopDecoder, batch ${batch}, ${steps} decode steps in one run`);
  const loop = await LoopDecoder.load(config, weights, { threads });
  let generated: number;
  let bytesIn: number;
  let bytesOut: number;
  try {
    const out = await loop.generate(prompts, { maxNewTokens: steps, temperature: 1, eosTokenIds: [] });
    generated = Math.max(...out.map((row) => row.tokenIds.length));
    ({ bytesIn, bytesOut } = loop.ledger);
  } finally {
    await loop.dispose();
  }
  log(`ledger: the step engine (OrtDecoderRunner), ${peerSteps} decode steps`);
  const peerBytes = await measureStepEngine(config, weights, prompts, peerSteps, threads);
  return { batch, promptLength, steps: generated, bytesIn, bytesOut, peerSteps, peerBytes };
}

function randomWeights(config: DecoderConfig): {
  weights: WeightMap;
  weightBytes: number;
  parameters: number;
} {
  const weights = initWeights(config, createRng(1));
  let weightBytes = 0;
  for (const tensor of weights.values()) weightBytes += tensor.data.byteLength;
  return { weights, weightBytes, parameters: countParameters(weights) };
}

/** The decode measurement alone (e.g. of the llama-cpp benchmark's 25.2M-parameter model). */
export async function measureDecodeLedger(
  model: LedgerPerfSizes['model'],
  sizes: LedgerPerfSizes['decode'],
  options: { threads: number; log: (line: string) => void },
): Promise<DecodeLedgerResult> {
  options.log(`ledger: random float32 weights for ${model.name}`);
  const { weights, weightBytes, parameters } = randomWeights(model.config);
  const decode = await measureDecode(model.config, weights, sizes, options);
  return { modelName: model.name, parameters, weightBytes, decode };
}

/** Runs the decode and train measurements on random float32 weights; one session at a time. */
export async function measureLedger(
  sizes: LedgerPerfSizes,
  options: { threads: number; log: (line: string) => void },
): Promise<LedgerResult> {
  const { config } = sizes.model;
  const { log, threads } = options;
  log(`ledger: random float32 weights for ${sizes.model.name}`);
  const { weights, weightBytes, parameters } = randomWeights(config);
  const decode = await measureDecode(config, weights, sizes.decode, options);

  const { microBatches, batch: trainBatch, length } = sizes.train;
  log(`ledger: OrtTrainablePolicy, ${microBatches} × ${trainBatch} × ${length} tokens per optimizer step`);
  const policy = await OrtTrainablePolicy.create(config, weights, { threads });
  let trainBytes: number;
  try {
    const rng = createRng(3);
    const upstream = new Float32Array(trainBatch * length).fill(
      -1 / (microBatches * trainBatch * (length - 1)),
    );
    for (let b = 0; b < trainBatch; b++) upstream[b * length] = 0;
    policy.resetLedger();
    for (let micro = 0; micro < microBatches; micro++) {
      const tokens = Int32Array.from({ length: trainBatch * length }, () => rng.int(config.vocabSize));
      const batchOf = {
        tokens,
        attentionMask: new Uint8Array(tokens.length).fill(1),
        batchSize: trainBatch,
        length,
      };
      await policy.forwardBackward(batchOf, { logprobs: upstream }); // gradients would be summed, then AdamW
    }
    const ledger = policy.ledger;
    trainBytes = ledger.bytesIn + ledger.bytesOut;
  } finally {
    await policy.dispose();
  }
  return {
    modelName: sizes.model.name,
    parameters,
    weightBytes,
    decode,
    train: { microBatches, batch: trainBatch, length, bytes: trainBytes },
  };
}
