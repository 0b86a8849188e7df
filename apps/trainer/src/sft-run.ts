// `sr1-train sft`: supervised training of a decoder on JSONL text/chat data with loss masks, on the
// ONNX engine, with AdamW, checkpoints, exact resume and JSONL metrics. The policy's sessions run in
// a worker_thread (`engine.worker`, default) so progress and the dashboard stay live during a step.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import {
  type DecoderConfig,
  initWeights,
  loadModelFolder,
  loadTokenizer,
  OrtTrainablePolicy,
  parseDecoderConfig,
  saveModelFolder,
  shareWeights,
  type WeightMap,
  WorkerTrainablePolicy,
} from '@sr1/model';
import { isNormOrBias } from '@sr1/optim';
import {
  checkRunDir,
  clearRunHistory,
  INITIAL_SFT_STATE,
  inReferenceOrder,
  loadLatestCheckpoint,
  MetricsWriter,
  Progress,
  readSftJsonl,
  restoreSftState,
  type SftState,
  saveCheckpoint,
  type TrainablePolicy,
  tokenizeExample,
  trainSft,
} from '@sr1/train';
import type { SftConfig } from './sft-config.js';

export interface SftRunResult {
  finalDir: string;
  lastLoss: number;
  steps: number;
  tokensPerSecond: number;
}

export async function runSft(
  config: SftConfig,
  options: { resume: boolean; force?: boolean; quiet?: boolean },
): Promise<SftRunResult> {
  // Everything is read and validated before the run folder is touched: a refused or failed start
  // leaves an earlier run's metrics.jsonl, checkpoints and resolved config as they were.
  checkRunDir(config.output.dir, options);
  let modelConfig: DecoderConfig;
  let weights: WeightMap;
  let tokenizerDir: string;
  if (config.model.kind === 'path') {
    const loaded = await loadModelFolder(config.model.path);
    modelConfig = loaded.config;
    weights = loaded.weights;
    tokenizerDir = config.model.path;
  } else {
    modelConfig = parseDecoderConfig(JSON.parse(await readFile(config.model.config, 'utf8')), {
      file: config.model.config,
    });
    weights = initWeights(modelConfig, createRng(config.model.seed));
    tokenizerDir = config.model.tokenizer;
  }
  const tokenizer = await loadTokenizer(tokenizerDir);
  const checkpoint = options.resume ? await loadLatestCheckpoint(config.output.dir) : null;
  const state: SftState = checkpoint === null ? INITIAL_SFT_STATE : restoreSftState(checkpoint);
  // The fresh model's tensor order, not the checkpoint file's (sorted): see inReferenceOrder.
  if (checkpoint !== null) {
    const saved = await loadModelFolder(checkpoint.dir);
    weights = inReferenceOrder(saved.weights, weights, join(checkpoint.dir, 'model.safetensors'));
  }
  const examples = (await readSftJsonl(config.data.train)).map((segments) =>
    tokenizeExample(segments, tokenizer, config.data.maxLength),
  );
  const engineOptions = {
    device: config.engine.device,
    ...(config.engine.threads > 0 ? { threads: config.engine.threads } : {}),
    precision: config.engine.precision,
  };
  // In a worker, the weights live in shared memory: the optimiser updates them in place on this
  // thread, the worker's sessions read them before each run, checkpoints are written from them.
  if (config.engine.worker) weights = shareWeights(weights);
  const policy: TrainablePolicy & { dispose(): Promise<void> } = config.engine.worker
    ? await WorkerTrainablePolicy.create(modelConfig, weights, engineOptions)
    : await OrtTrainablePolicy.create(modelConfig, weights, engineOptions);
  // The worker's thread would keep the process alive: it ends however the run ends.
  try {
    if (options.force === true && !options.resume) await clearRunHistory(config.output.dir);
    await mkdir(config.output.dir, { recursive: true });
    await writeFile(join(config.output.dir, 'config.resolved.json'), `${JSON.stringify(config, null, 2)}\n`);
    const metrics = new MetricsWriter(join(config.output.dir, 'metrics.jsonl'));
    metrics.truncateAfter(state.step);
    const progress = options.quiet === true ? null : new Progress(config.training.steps, 'sft');
    progress?.start(state.step);
    let lastLoss = Number.NaN;
    let tokens = 0;
    let seconds = 0;
    const writeModel = (dir: string) =>
      saveModelFolder(dir, { config: modelConfig, weights }, { tokenizerDir });
    await trainSft(
      policy,
      examples,
      {
        steps: config.training.steps,
        batchSize: config.training.batchSize,
        microBatchSize: config.training.microBatchSize,
        lr: config.training.lr,
        schedule: config.training.schedule,
        warmupRatio: config.training.warmupRatio,
        maxGradNorm: config.training.maxGradNorm,
        optimizer: {
          weightDecay: config.training.weightDecay,
          beta1: config.training.beta1,
          beta2: config.training.beta2,
          noDecay: isNormOrBias,
        },
        seed: config.training.seed,
        maxNonFiniteSteps: config.training.maxNonFiniteSteps,
      },
      state,
      {
        saveEvery: config.output.saveEvery,
        onStep: (m) => {
          lastLoss = m.loss;
          tokens += m.tokens;
          seconds += m.tokens / m.tokensPerSecond;
          metrics.write({ ...m });
          progress?.update(m.step, { loss: m.loss, 'tok/s': m.tokensPerSecond, lr: m.lr });
        },
        onCheckpoint: async (s) => {
          const { optimizer, ...trainerState } = s;
          await saveCheckpoint(
            config.output.dir,
            { step: s.step, trainerState, optimizer, writeModel },
            config.output.keep,
          );
        },
      },
    );
    progress?.stop();
    const finalDir = join(config.output.dir, 'final');
    await writeModel(finalDir);
    return {
      finalDir,
      lastLoss,
      steps: config.training.steps,
      tokensPerSecond: tokens / Math.max(seconds, 1e-9),
    };
  } finally {
    await policy.dispose();
  }
}
