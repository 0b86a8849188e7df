// The trainer's generation engines. 'async-worker': an `EngineWorker` (the ORT session in a
// worker_thread, on the trainer's shared weights) whose continuous-batching scheduler keeps each
// trajectory's KV cache between turns, driven by the asynchronous agent loop — each trajectory
// searches as soon as it stops, while the others decode. 'lockstep': `generate` on the main thread
// and the lock-step loop, every turn re-prefilling its whole context. Both count generated tokens.

import { InvalidInputError } from '@sr1/core';
import type { MethodParts } from '@sr1/eval';
import {
  type DecoderConfig,
  type DecoderRunner,
  EngineWorker,
  generate,
  generatorFromEngine,
  type ModelTokenizer,
  type Precision,
  sessionGenerator,
  shareWeights,
  type WeightMap,
} from '@sr1/model';
import {
  type Generator,
  type Retriever,
  type RolloutConfig,
  type RolloutPrompt,
  runAsyncRollout,
  runRollout,
  type SessionGenerator,
  type Tokenizer,
  type Trajectory,
} from '@sr1/rollout';
import { ROLLOUT_ENGINE_NAMES, type RolloutEngineName } from './rl-config.js';

export interface CountingGenerator {
  generator: Generator;
  /** Tokens generated so far. */
  generatedTokens(): number;
}

/** The in-thread engine as @sr1/rollout's Generator (`generatorFromEngine` over `generate`), counting tokens. */
export function engineGenerator(runner: DecoderRunner, tokenizer: ModelTokenizer): CountingGenerator {
  let count = 0;
  const generator = generatorFromEngine(async (prompts, options) => {
    const sequences = await generate(runner, tokenizer, prompts, options);
    for (const sequence of sequences) count += sequence.tokenIds.length;
    return sequences;
  });
  return { generator, generatedTokens: () => count };
}

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The seed of one trajectory's turn: the rollout's turn seed mixed with the trajectory's key. The
 * async loop gives every trajectory of a turn the same seed, and a scheduler session samples from
 * its own generator seeded by it, so without the key a GRPO group's rollouts of one prompt would
 * all sample the same tokens.
 */
export function trajectorySeed(seed: number, key: string): number {
  return fnv1a(`${key}\u0000${seed}`);
}

/**
 * Sessions whose sampling is seeded per trajectory (`trajectorySeed`) and which count the tokens
 * they generate. Seeded runs stay repeatable: a trajectory's samples depend on its key and the
 * turn's seed, not on which trajectories share a decode step.
 */
export function seededSessions(
  sessions: SessionGenerator,
  onTokens: (count: number) => void = () => {},
): SessionGenerator {
  const keys = new Map<string, string>();
  const seeded = <R extends { seed?: number }>(request: R, key: string): R =>
    request.seed === undefined ? request : { ...request, seed: trajectorySeed(request.seed, key) };
  return {
    async start(request) {
      const started = await sessions.start(seeded(request, request.key));
      keys.set(started.session, request.key);
      onTokens(started.result.tokenIds.length);
      return started;
    },
    async continue(session, appendTokenIds, request) {
      const result = await sessions.continue(
        session,
        appendTokenIds,
        seeded(request, keys.get(session) ?? session),
      );
      onTokens(result.tokenIds.length);
      return result;
    },
    release(session) {
      keys.delete(session);
      sessions.release(session);
    },
  };
}

/** What a rollout of the trainer needs besides the prompts. */
export interface EngineRolloutOptions {
  retriever: Retriever;
  tokenizer: Tokenizer;
  config: Partial<RolloutConfig>;
}

/** A generation engine of the trainer: rollouts, the parts @sr1/eval generates with, policy versions. */
export interface TrainerEngine {
  readonly name: RolloutEngineName;
  /** The agent loop over `prompts` (trajectories in prompt order). */
  rollout(prompts: readonly RolloutPrompt[], options: EngineRolloutOptions): Promise<Trajectory[]>;
  /** For `evaluateMethod`: a generator (lock-step) or sessions (async, in the worker). */
  readonly evalParts: Pick<MethodParts, 'generator' | 'sessions'>;
  /** Tokens generated so far (rollouts and evaluation). */
  generatedTokens(): number;
  /**
   * Makes the trained weights the policy of later generation (call after every optimizer step).
   * In-thread, the runner reads the trainer's buffers at every forward: nothing to do.
   */
  setPolicyVersion(version: number): Promise<void>;
  /** The worker's counters (null in-thread): KV reuse across turns, batch sizes. */
  stats(): Promise<Record<string, number> | null>;
  dispose(): Promise<void>;
}

/** An 'async-worker' engine, with its `EngineWorker`: a `TrainWorker.over(worker)` trains in its thread. */
export interface WorkerTrainerEngine extends TrainerEngine {
  readonly worker: EngineWorker;
}

/**
 * The lock-step loop over `generate` on the main thread. The runner may read the trainer's own
 * buffers (nothing to publish), or a copy that `publish` refreshes at each policy version (the
 * trainer's weights in shared memory, which ORT does not take).
 */
export function inThreadEngine(
  runner: DecoderRunner,
  tokenizer: ModelTokenizer,
  publish: (version: number) => void = () => {},
): TrainerEngine {
  const { generator, generatedTokens } = engineGenerator(runner, tokenizer);
  return {
    name: 'lockstep',
    rollout: (prompts, options) => runRollout(prompts, { ...options, generator }),
    evalParts: { generator },
    generatedTokens,
    setPolicyVersion: async (version) => publish(version),
    stats: async () => null,
    dispose: () => runner.dispose(),
  };
}

/** Where the worker's model comes from, and how its ORT sessions run. */
export interface WorkerEngineOptions {
  device?: 'cpu' | 'cuda';
  /** The worker runner's compute precision (absent: float32). */
  precision?: Precision;
  /** ORT intra-op threads in the worker (absent: ORT's choice). */
  threads?: number;
}

/** The async loop over an `EngineWorker`'s scheduler sessions. */
function engineOverWorker(
  worker: EngineWorker,
  publish: (version: number) => Promise<void>,
): WorkerTrainerEngine {
  let count = 0;
  const sessions = seededSessions(sessionGenerator(worker), (tokens) => {
    count += tokens;
  });
  return {
    name: 'async-worker',
    rollout: (prompts, options) => runAsyncRollout(prompts, { ...options, sessions }),
    evalParts: { sessions },
    generatedTokens: () => count,
    setPolicyVersion: publish,
    stats: async () => {
      const { policyVersion, ...stats } = await worker.stats();
      return { ...stats, policyVersion };
    },
    dispose: () => worker.close(),
    worker,
  };
}

/**
 * An engine worker on the trainer's weights. `weights` are shared with the worker once
 * (`shareWeights`, unless they already live in SharedArrayBuffers — then the trainer updates the
 * worker's source in place); `setPolicyVersion` copies the trained values into the shared buffers
 * (when they are a copy) and has the worker take its snapshot, so every rollout of a step runs on
 * the weights of the step before it.
 */
export async function workerEngine(
  model: { config: DecoderConfig; weights: WeightMap; tokenizerDir: string },
  options: WorkerEngineOptions = {},
): Promise<WorkerTrainerEngine> {
  const alreadyShared = [...model.weights.values()].every(
    (tensor) => tensor.data.buffer instanceof SharedArrayBuffer,
  );
  const shared = alreadyShared ? model.weights : shareWeights(model.weights);
  const worker = await EngineWorker.start({
    shared: { config: model.config, weights: shared, tokenizerDir: model.tokenizerDir },
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.precision !== undefined ? { precision: options.precision } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  return engineOverWorker(worker, async (version) => {
    if (!alreadyShared) {
      for (const [name, tensor] of model.weights) shared.get(name)!.data.set(tensor.data);
    }
    await worker.setPolicyVersion(version);
  });
}

/** An engine on a model folder (evaluation of a saved policy): a worker that reads it, or an in-thread runner. */
export async function folderEngine(
  name: RolloutEngineName,
  modelDir: string,
  tokenizer: ModelTokenizer,
  createRunner: () => Promise<DecoderRunner>,
  options: WorkerEngineOptions = {},
): Promise<TrainerEngine> {
  if (name === 'lockstep') return inThreadEngine(await createRunner(), tokenizer);
  if (name !== 'async-worker') {
    throw new InvalidInputError({
      field: 'engine.rollout',
      reason: `expected one of [${ROLLOUT_ENGINE_NAMES.join(', ')}], got ${JSON.stringify(name)}`,
    });
  }
  const worker = await EngineWorker.start({
    modelDir,
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.precision !== undefined ? { precision: options.precision } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  return engineOverWorker(worker, async (version) => worker.setPolicyVersion(version));
}
