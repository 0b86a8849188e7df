// The `sr1-train sft` config: one typed, validated object with defaults that carry their reasons.
// Errors name the file and the dotted field; the resolved config is written beside the run.

import { dirname, resolve } from 'node:path';
import { PRECISIONS, type Precision } from '@sr1/model';
import { ConfigReader, DEFAULT_MAX_NON_FINITE_STEPS, readConfigFile } from '@sr1/train';

export interface SftConfig {
  model: { kind: 'path'; path: string } | { kind: 'init'; config: string; tokenizer: string; seed: number };
  data: { train: string; maxLength: number };
  training: {
    steps: number;
    batchSize: number;
    microBatchSize: number;
    lr: number;
    schedule: 'constant' | 'linear-warmup' | 'cosine';
    warmupRatio: number;
    weightDecay: number;
    beta1: number;
    beta2: number;
    maxGradNorm: number;
    seed: number;
    maxNonFiniteSteps: number;
  };
  output: { dir: string; saveEvery: number; keep: number };
  /**
   * `worker`: the policy's ORT sessions in a worker_thread (the event loop runs during a step).
   * `precision`: the MatMuls' compute type (@sr1/model's `Precision`: norms, softmax, log-probs and
   * the float32 master weights stay float32); 'bfloat16' needs `device` 'cuda'.
   */
  engine: { device: 'cpu' | 'cuda'; threads: number; worker: boolean; precision: Precision };
}

/** Reads and validates a config file; relative paths are resolved against the file's folder. */
export async function loadSftConfig(file: string): Promise<SftConfig> {
  return parseSftConfig(await readConfigFile(file), file);
}

export function parseSftConfig(json: Record<string, unknown>, file?: string): SftConfig {
  const base = file === undefined ? process.cwd() : dirname(resolve(file));
  const path = (value: string): string => resolve(base, value);
  const root = new ConfigReader(file, json);
  root.rejectUnknown(['model', 'data', 'training', 'output', 'engine']);

  const model = root.object('model');
  model.rejectUnknown(['path', 'init']);
  let modelConfig: SftConfig['model'];
  if (model.has('path') === model.has('init')) {
    model.fail('path', 'give exactly one of model.path (an HF folder) or model.init (a random model)');
  }
  if (model.has('path')) {
    modelConfig = { kind: 'path', path: path(model.string('path')) };
  } else {
    const init = model.object('init');
    init.rejectUnknown(['config', 'tokenizer', 'seed']);
    modelConfig = {
      kind: 'init',
      config: path(init.string('config')),
      tokenizer: path(init.string('tokenizer')),
      seed: init.number('seed', 0, { integer: true, min: 0 }),
    };
  }

  const data = root.object('data');
  data.rejectUnknown(['train', 'maxLength']);
  const training = root.object('training');
  training.rejectUnknown([
    'steps',
    'batchSize',
    'microBatchSize',
    'lr',
    'schedule',
    'warmupRatio',
    'weightDecay',
    'beta1',
    'beta2',
    'maxGradNorm',
    'seed',
    'maxNonFiniteSteps',
  ]);
  const batchSize = training.number('batchSize', 8, { integer: true, min: 1 }); // 8: fits 2 CPU cores at 512 tokens
  const microBatchSize = training.number('microBatchSize', Math.min(batchSize, 4), { integer: true, min: 1 }); // 4: bounds activation memory
  if (batchSize % microBatchSize !== 0) {
    training.fail('microBatchSize', `must divide training.batchSize (${batchSize}), got ${microBatchSize}`);
  }
  const output = root.object('output');
  output.rejectUnknown(['dir', 'saveEvery', 'keep']);
  const engine = root.object('engine');
  engine.rejectUnknown(['device', 'threads', 'worker', 'precision']);
  const device = engine.choice('device', ['cpu', 'cuda'] as const, 'cpu'); // cpu: present everywhere
  const steps = training.number('steps', undefined, { integer: true, min: 1 });
  return {
    model: modelConfig,
    data: {
      train: path(data.string('train')),
      maxLength: data.number('maxLength', 512, { integer: true, min: 2 }), // 512: the toy world's longest trajectories fit
    },
    training: {
      steps,
      batchSize,
      microBatchSize,
      lr: training.number('lr', 1e-4, { min: 0, exclusiveMin: true }), // 1e-4: stable for small decoders trained from scratch
      schedule: training.choice('schedule', ['constant', 'linear-warmup', 'cosine'] as const, 'cosine'), // cosine: standard for SFT
      warmupRatio: training.number('warmupRatio', 0.05, { min: 0, max: 1 }), // 5%: avoids early Adam blow-ups
      weightDecay: training.number('weightDecay', 0.01, { min: 0 }), // torch AdamW's default
      beta1: training.number('beta1', 0.9, { min: 0, max: 0.999999 }), // torch's default
      beta2: training.number('beta2', 0.999, { min: 0, max: 0.999999 }), // torch's default
      maxGradNorm: training.number('maxGradNorm', 1, { min: 0, exclusiveMin: true }), // 1.0: veRL's grad_clip
      seed: training.number('seed', 0, { integer: true, min: 0 }),
      maxNonFiniteSteps: training.number('maxNonFiniteSteps', DEFAULT_MAX_NON_FINITE_STEPS, {
        integer: true,
        min: 1,
      }), // 10: rides out a rare overflow, stops a diverged run (lr too high) within seconds
    },
    output: {
      dir: path(output.string('dir')),
      saveEvery: output.number('saveEvery', Math.max(1, Math.floor(steps / 4)), { integer: true, min: 1 }), // 4 saves a run
      keep: output.number('keep', 2, { integer: true, min: 1 }), // 2: the newest survives a crash during the next save
    },
    engine: {
      device,
      threads: engine.number('threads', 0, { integer: true, min: 0 }), // 0: ORT picks (all cores)
      worker: engine.boolean('worker', true), // true: same results as in-thread, and progress/dashboard stay live
      precision: enginePrecision(engine, device), // float32: every committed result was trained in it
    },
  };
}

/**
 * `engine.precision`: one of @sr1/model's `PRECISIONS`, default 'float32'; 'bfloat16' only on
 * 'cuda' (onnxruntime-node's CPU provider has no bfloat16 MatMul), refused here, before any
 * model loads.
 */
export function enginePrecision(engine: ConfigReader, device: 'cpu' | 'cuda'): Precision {
  const precision = engine.choice('precision', PRECISIONS, 'float32');
  if (precision === 'bfloat16' && device === 'cpu')
    engine.fail(
      'precision',
      "'bfloat16' needs engine.device 'cuda': onnxruntime-node's CPU provider has no bfloat16 MatMul (use 'float16' or 'float32')",
    );
  return precision;
}
