// The worker_thread that owns the ORT sessions: it loads the model once, then runs generation,
// scoring and scheduled session turns for `EngineWorker` on the main thread, whose event loop
// therefore never waits on a forward pass. It can host the training sessions as well
// ('attach-training': train-host.ts over a transferred MessagePort), so that one thread per
// device runs every ORT session.

import { parentPort, threadId, workerData } from 'node:worker_threads';
import { Sr1Error } from '@sr1/core';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';
import { loadModelFolder } from '../formats/model-folder.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';
import { serveTraining } from '../training/train-host.js';
import { generate } from './generate.js';
import { ContinuousBatchScheduler } from './scheduler.js';
import { scoreSequences } from './score.js';
import type { ClientMessage, EngineWorkerData, WireError, WorkerMessage } from './worker-protocol.js';

if (parentPort === null)
  throw new EngineInvariantError(
    'engine-worker.ts runs as a worker_thread (start it with EngineWorker.start)',
  );
const port = parentPort;

function wire(error: unknown): WireError {
  if (error instanceof Sr1Error) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, code: 'engine_internal', message: error.message };
  return { name: 'Error', code: 'engine_internal', message: String(error) };
}

const send = (message: WorkerMessage) => port.postMessage(message);

async function main(): Promise<void> {
  const data = workerData as EngineWorkerData;
  let weights: WeightMap;
  let config: DecoderConfig;
  let tokenizerDir: string;
  /** The shared weights and this worker's snapshot of them (ORT cannot read shared memory). */
  let shared: { source: Float32Array; snapshot: Float32Array }[] = [];
  if (data.model.kind === 'folder') {
    const model = await loadModelFolder(data.model.dir);
    weights = model.weights;
    config = model.config;
    tokenizerDir = data.model.dir;
  } else {
    config = data.model.config;
    tokenizerDir = data.model.tokenizerDir;
    weights = new Map();
    shared = data.model.weights.map((weight) => {
      const snapshot = Float32Array.from(weight.data);
      weights.set(weight.name, { shape: weight.shape, data: snapshot });
      return { source: weight.data, snapshot };
    });
  }
  const tokenizer = await loadTokenizer(tokenizerDir);
  const runner = await OrtDecoderRunner.create(config, weights, data.runner);
  const scheduler = new ContinuousBatchScheduler(runner, tokenizer, data.scheduler);
  const controllers = new Map<number, AbortController>();
  /** Per-sequence controllers of the generate requests running (their `sequenceSignals`). */
  const sequenceControllers = new Map<number, AbortController[]>();
  let policyVersion = 0;

  const run = (id: number, work: (signal: AbortSignal) => Promise<unknown>) => {
    const controller = new AbortController();
    controllers.set(id, controller);
    work(controller.signal)
      .then((value) => send({ type: 'result', id, value }))
      .catch((error: unknown) => send({ type: 'error', id, error: wire(error) }))
      .finally(() => controllers.delete(id));
  };

  port.on('message', (message: ClientMessage) => {
    switch (message.type) {
      case 'generate': {
        const perSequence = message.prompts.map(() => new AbortController());
        for (const sequence of message.abortedSequences) perSequence[sequence]?.abort();
        sequenceControllers.set(message.id, perSequence);
        run(message.id, (signal) =>
          generate(runner, tokenizer, message.prompts, {
            ...message.options,
            signal,
            sequenceSignals: perSequence.map((controller) => controller.signal),
            ...(message.stream
              ? { onToken: (sequence, tokenId) => send({ type: 'token', id: message.id, sequence, tokenId }) }
              : {}),
          }).finally(() => sequenceControllers.delete(message.id)),
        );
        return;
      }
      case 'score':
        run(message.id, () => scoreSequences(runner, message.sequences, message.options));
        return;
      case 'start':
      case 'continue': {
        const stream = message.stream
          ? { onToken: (tokenId: number) => send({ type: 'token', id: message.id, sequence: 0, tokenId }) }
          : {};
        if (message.type === 'start') {
          run(message.id, (signal) =>
            scheduler.start(message.promptTokenIds, { ...message.options, signal, ...stream }),
          );
        } else {
          run(message.id, (signal) =>
            scheduler.continue(message.session, message.appendTokenIds, {
              ...message.options,
              signal,
              ...stream,
            }),
          );
        }
        return;
      }
      case 'release':
        scheduler.release(message.session);
        return;
      case 'policy':
        // A snapshot between two forward passes: every step runs on exactly one policy version.
        for (const { source, snapshot } of shared) snapshot.set(source);
        // Fed weights: nothing more to do. Initializers: the sessions in use are recompiled around
        // the new snapshot (ORT copies initializers at compile time, so the old sessions keep theirs).
        if (shared.length > 0) runner.setWeights(weights);
        policyVersion = message.version;
        send({ type: 'result', id: message.id, value: policyVersion });
        return;
      case 'stats':
        send({ type: 'result', id: message.id, value: { ...scheduler.stats(), policyVersion } });
        return;
      case 'cancel':
        controllers.get(message.id)?.abort();
        return;
      case 'cancel-sequence':
        sequenceControllers.get(message.id)?.[message.sequence]?.abort();
        return;
      case 'attach-training':
        // Training sessions in this thread too: one worker thread per device.
        serveTraining(message.port);
        send({ type: 'result', id: message.id, value: null });
        return;
      case 'thread':
        send({ type: 'result', id: message.id, value: threadId });
        return;
    }
  });
  send({ type: 'ready', config, eosTokenIds: [...tokenizer.eosTokenIds] });
}

main().catch((error: unknown) => send({ type: 'init-error', error: wire(error) }));
