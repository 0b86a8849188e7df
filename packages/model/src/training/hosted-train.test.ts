// Training hosted in the engine worker's thread (`TrainWorker.over`): one worker thread per device.

import { rm } from 'node:fs/promises';
import { threadId } from 'node:worker_threads';
import { createRng, InvalidInputError } from '@sr1/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError } from '../errors.js';
import { initWeights } from '../formats/weights.js';
import { shareWeights } from '../inference/shared-weights.js';
import { testWorkerUrl } from '../inference/test-worker.js';
import { EngineWorker } from '../inference/worker-client.js';
import { fixedUpstream, tinyModelFolder, tinyTrainQwen2, tokenBatch } from '../testing/index.js';
import { testTrainWorkerUrl } from './test-train-worker.js';
import { TRAIN_TEST_BATCH as BATCH, expectSameBuffers } from './train-test-fixture.js';
import { TrainWorker, WorkerCritic, WorkerTrainablePolicy } from './worker-policy.js';

const CONFIG: DecoderConfig = { ...tinyTrainQwen2(), tieWordEmbeddings: false };

let dir: string;
let engine: EngineWorker;
let trainWorkerUrl: URL;
let weights: WeightMap;
const GEN = { maxNewTokens: 6, temperature: 0.8, topP: 0.9, seed: 3 };
const PROMPTS = [
  [5, 6, 7],
  [8, 9],
];

beforeAll(async () => {
  dir = await tinyModelFolder(5);
  engine = await EngineWorker.start({ modelDir: dir, workerUrl: await testWorkerUrl() });
  trainWorkerUrl = await testTrainWorkerUrl();
  weights = initWeights(CONFIG, createRng(7));
});
afterAll(async () => {
  await engine?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('TrainWorker.over(engine): training in the engine worker’s thread', () => {
  it('runs in the engine worker’s thread, not the main one nor a thread of its own', async () => {
    const hosted = await TrainWorker.over(engine);
    const own = await TrainWorker.start({ workerUrl: trainWorkerUrl });
    const engineThread = await engine.thread();
    expect(engineThread).not.toBe(threadId);
    expect(await hosted.thread()).toBe(engineThread);
    expect(await own.thread()).not.toBe(engineThread);
    await own.close();
    await hosted.close();
  });

  it('gives a policy and a critic the same results, bit for bit, as on a train worker of their own', async () => {
    const hostedWorker = await TrainWorker.over(engine);
    const ownWorker = await TrainWorker.start({ workerUrl: trainWorkerUrl });
    const make = async (worker: TrainWorker) => ({
      policy: await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, worker }),
      critic: await WorkerCritic.fromPolicy(CONFIG, weights, createRng(3), { threads: 1, worker }, 0.5),
    });
    const hosted = await make(hostedWorker);
    const own = await make(ownWorker);
    const upstream = fixedUpstream(BATCH);
    // generation in the same thread at the same time changes nothing
    const [generated, hostedForward] = await Promise.all([
      engine.generate(PROMPTS, GEN),
      hosted.policy.forward(BATCH),
    ]);
    expect(generated).toEqual(await engine.generate(PROMPTS, GEN));
    expect(hostedForward).toEqual(await own.policy.forward(BATCH));
    const expected = await own.policy.forwardBackward(BATCH, upstream);
    const actual = await hosted.policy.forwardBackward(BATCH, upstream);
    expect(actual.forward).toEqual(expected.forward);
    expectSameBuffers(actual.grads, expected.grads);
    expectSameBuffers(
      await hosted.policy.backward(BATCH, upstream),
      await own.policy.backward(BATCH, upstream),
    );
    expect(hosted.policy.ledger).toEqual(own.policy.ledger);
    const values = { values: upstream.logprobs };
    expect(await hosted.critic.forward(BATCH)).toEqual(await own.critic.forward(BATCH));
    expectSameBuffers(await hosted.critic.backward(BATCH, values), await own.critic.backward(BATCH, values));
    await hostedWorker.close();
    await ownWorker.close();
  });

  it('sends a bad request’s typed error back, and stays usable', async () => {
    const worker = await TrainWorker.over(engine);
    const policy = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, worker });
    const error = await policy.forward(tokenBatch([[1, 2, 40]], 3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecoderInputError);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ code: 'decoder_input', field: 'batch.tokens' });
    expect((error as Error).message).toMatch(/token id 40 \(row 0, position 2\) is outside the vocabulary/);
    expect((await policy.forward(BATCH)).logprobs).toHaveLength(BATCH.batchSize * BATCH.length);
    await worker.close();
  });

  it('closes without ending the engine worker, which goes on generating', async () => {
    const before = await engine.generate(PROMPTS, GEN);
    const worker = await TrainWorker.over(engine);
    const policy = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, worker });
    await policy.forward(BATCH);
    await worker.close();
    expect(worker.closed).toBe(true);
    expect(await worker.exited).toBe(0);
    await expect(policy.forward(BATCH)).rejects.toMatchObject({ code: 'train_worker_closed' });
    await policy.dispose(); // no-op on a closed worker
    expect(await engine.generate(PROMPTS, GEN)).toEqual(before);
    // and can host training again
    const again = await TrainWorker.over(engine);
    expect(await again.thread()).toBe(await engine.thread());
    await again.close();
  });

  it('fails later requests once the engine worker ends', async () => {
    const own = await EngineWorker.start({ modelDir: dir, workerUrl: await testWorkerUrl() });
    const worker = await TrainWorker.over(own);
    const policy = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, worker });
    await own.close();
    expect(await worker.exited).toBe(0);
    expect(worker.closed).toBe(true);
    await expect(policy.forward(BATCH)).rejects.toMatchObject({ code: 'train_worker_closed' });
    await worker.close();
  });
});
