import { createRng, InvalidInputError, Sr1Error } from '@sr1/core';
import { AdamW, sgdStep } from '@sr1/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecoderConfig, WeightMap } from '../engine-types.js';
import { DecoderInputError, WeightShapeError } from '../errors.js';
import { cloneWeights, initWeights } from '../formats/weights.js';
import { shareWeights } from '../inference/shared-weights.js';
import { fixedUpstream, tinyQwen2ForSmallTokenizer, tinyTrainQwen2, tokenBatch } from '../testing/index.js';
import { OrtCritic } from './ort-critic.js';
import { OrtTrainablePolicy } from './ort-policy.js';
import { testTrainWorkerUrl } from './test-train-worker.js';
import { TRAIN_TEST_BATCH as BATCH, expectSameBuffers } from './train-test-fixture.js';
import { TrainWorker, WorkerCritic, WorkerTrainablePolicy } from './worker-policy.js';

const CONFIG: DecoderConfig = tinyTrainQwen2();

let workerUrl: URL;
beforeAll(async () => {
  workerUrl = await testTrainWorkerUrl();
});

describe('WorkerTrainablePolicy (the trainable policy in a worker_thread)', () => {
  let weights: WeightMap;
  let local: OrtTrainablePolicy;
  let remote: WorkerTrainablePolicy;
  beforeAll(async () => {
    weights = initWeights(CONFIG, createRng(7));
    local = await OrtTrainablePolicy.create(CONFIG, cloneWeights(weights), { threads: 1 });
    remote = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, workerUrl });
  });
  afterAll(async () => {
    await local?.dispose();
    await remote?.dispose();
  });

  it('returns the in-thread policy’s log-probs, entropies and gradients bit for bit', async () => {
    expect(await remote.forward(BATCH)).toEqual(await local.forward(BATCH));
    for (const withEntropy of [false, true]) {
      const upstream = fixedUpstream(BATCH, withEntropy);
      const expected = await local.forwardBackward(BATCH, upstream);
      const actual = await remote.forwardBackward(BATCH, upstream);
      expect(actual.forward).toEqual(expected.forward);
      expectSameBuffers(actual.grads, expected.grads);
      expectSameBuffers(await remote.backward(BATCH, upstream), await local.backward(BATCH, upstream));
    }
    // a batch too short to predict anything: zeros, as in-thread
    const single = tokenBatch([[3], [4]], 1);
    expect(await remote.forward(single)).toEqual(await local.forward(single));
  });

  it('takes the compute precision into the worker: float16 equals the in-thread float16 policy, not float32', async () => {
    const half = await OrtTrainablePolicy.create(CONFIG, cloneWeights(weights), {
      threads: 1,
      precision: 'float16',
    });
    const remoteHalf = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), {
      threads: 1,
      precision: 'float16',
      workerUrl,
    });
    const expected = await half.forward(BATCH);
    expect(await remoteHalf.forward(BATCH)).toEqual(expected);
    expect(expected.logprobs).not.toEqual((await local.forward(BATCH)).logprobs);
    await half.dispose();
    await remoteHalf.dispose();
  });

  it('has the shared weights as parameters, and gradients in buffers of their own', async () => {
    expect([...remote.parameters.keys()]).toEqual([...local.parameters.keys()]);
    for (const [name, data] of remote.parameters) {
      expect(data.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(data).toBe(remote.weights.get(name)!.data);
    }
    const grads = await remote.backward(BATCH, fixedUpstream(BATCH, false));
    for (const grad of grads.values()) expect(grad.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('counts the ledger as the in-thread policy does, and the weight bytes it copies per run', async () => {
    local.resetLedger();
    remote.resetLedger();
    const before = remote.refreshBytes;
    await local.forwardBackward(BATCH, fixedUpstream(BATCH, false));
    await remote.forwardBackward(BATCH, fixedUpstream(BATCH, false));
    await local.forward(BATCH);
    await remote.forward(BATCH);
    expect(remote.ledger).toEqual(local.ledger);
    expect(remote.ledger.runs).toBe(2);
    let weightBytes = 0;
    for (const tensor of weights.values()) weightBytes += tensor.data.byteLength;
    expect(remote.refreshBytes - before).toBe(2 * weightBytes);
    remote.resetLedger();
    expect(remote.ledger).toEqual({ runs: 0, bytesIn: 0, bytesOut: 0 });
    await remote.forward(BATCH);
    expect(remote.ledger.runs).toBe(1);
  });

  it('takes optimiser steps through @sr1/optim exactly as the in-thread policy', async () => {
    const policies = [
      await OrtTrainablePolicy.create(CONFIG, cloneWeights(weights), { threads: 1 }),
      await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), { threads: 1, workerUrl }),
    ] as const;
    const optimizers = policies.map(() => new AdamW({ lr: 0.05, weightDecay: 0.01 }));
    const upstream = fixedUpstream(BATCH, true);
    for (let step = 0; step < 3; step++) {
      const results = [];
      for (const [i, policy] of policies.entries()) {
        const { forward, grads } = await policy.forwardBackward(BATCH, upstream);
        optimizers[i]!.step(policy.parameters, grads);
        if (step === 2) sgdStep(policy.parameters, grads, 0.1);
        results.push(forward);
      }
      // each step's forward ran on the previous step's update, in the worker as in-thread
      expect(results[1]).toEqual(results[0]);
      expectSameBuffers(policies[1].parameters, policies[0].parameters);
    }
    expect(await policies[1].forward(BATCH)).toEqual(await policies[0].forward(BATCH));
    expect(policies[1].parameters.get('model.norm.weight')).not.toEqual(
      weights.get('model.norm.weight')!.data,
    );
    for (const policy of policies) await policy.dispose();
  });

  it('makes frozen copies in the same thread (the reference policy)', async () => {
    const policy = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), {
      threads: 1,
      workerUrl,
    });
    const reference = await policy.copy();
    expect(reference.worker).toBe(policy.worker);
    const before = await reference.forward(BATCH);
    expect(before).toEqual(await policy.forward(BATCH));
    const grads = await policy.backward(BATCH, fixedUpstream(BATCH, false));
    sgdStep(policy.parameters, grads, 1);
    expect(await reference.forward(BATCH)).toEqual(before);
    expect(await policy.forward(BATCH)).not.toEqual(before);
    // the thread started for the policy lives until its last model (the copy) is disposed
    await policy.dispose();
    expect(await reference.forward(BATCH)).toEqual(before);
    await reference.dispose();
    expect(await reference.worker.exited).toBe(1);
  });

  it('keeps the main thread’s event loop running while a backward pass runs in the worker', async () => {
    const config = tinyQwen2ForSmallTokenizer();
    const big = initWeights(config, createRng(2));
    const rows = Array.from({ length: 4 }, (_, b) =>
      Array.from({ length: 384 }, (_, t) => (b * 131 + t * 17) % config.vocabSize),
    );
    const batch = tokenBatch(rows, 384);
    const upstream = fixedUpstream(batch, false);
    const inThread = await OrtTrainablePolicy.create(config, cloneWeights(big), { threads: 1 });
    const inWorker = await WorkerTrainablePolicy.create(config, shareWeights(big), { threads: 1, workerUrl });
    /** setImmediate ticks the main thread runs until `work` settles. */
    const ticksDuring = async (work: () => Promise<unknown>) => {
      let ticks = 0;
      let running = true;
      const tick = () => {
        if (!running) return;
        ticks++;
        setImmediate(tick);
      };
      setImmediate(tick);
      await work();
      running = false;
      return ticks;
    };
    // warm both (first runs compile the gradient session)
    await inThread.backward(batch, upstream);
    await inWorker.backward(batch, upstream);
    const local = await ticksDuring(() => inThread.backward(batch, upstream));
    const remote = await ticksDuring(() => inWorker.backward(batch, upstream));
    // In-thread the pass blocks the thread: a tick or two at its edges.
    expect(local).toBeLessThan(10);
    expect(remote).toBeGreaterThan(10 * local + 20);
    await inThread.dispose();
    await inWorker.dispose();
  });

  it('rejects a bad batch with the typed error, as in-thread, and stays usable', async () => {
    const outside = tokenBatch([[1, 2, 40]], 3); // vocab 40
    await expect(local.forward(outside)).rejects.toBeInstanceOf(DecoderInputError);
    const error = await remote.forward(outside).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DecoderInputError);
    expect(error).toMatchObject({ code: 'decoder_input', field: 'batch.tokens' });
    expect((error as Error).message).toMatch(/token id 40 \(row 0, position 2\) is outside the vocabulary/);
    const short = { ...BATCH, tokens: BATCH.tokens.subarray(1) };
    await expect(remote.forwardBackward(short, fixedUpstream(BATCH, false))).rejects.toMatchObject({
      code: 'decoder_input',
      field: 'batch.tokens',
    });
    await expect(remote.backward(BATCH, { logprobs: new Float32Array(3) })).rejects.toBeInstanceOf(
      DecoderInputError,
    );
    expect(await remote.forward(BATCH)).toEqual(await local.forward(BATCH));
  });

  it('refuses unshared weights, and a missing weight with the typed error', async () => {
    await expect(
      WorkerTrainablePolicy.create(CONFIG, cloneWeights(weights), { workerUrl }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    const missing = shareWeights(weights);
    missing.delete('model.norm.weight');
    await expect(WorkerTrainablePolicy.create(CONFIG, missing, { workerUrl })).rejects.toBeInstanceOf(
      WeightShapeError,
    );
  });

  it('ends its worker on dispose; later calls reject', async () => {
    const policy = await WorkerTrainablePolicy.create(CONFIG, shareWeights(weights), {
      threads: 1,
      workerUrl,
    });
    await policy.forward(BATCH);
    await policy.dispose();
    expect(policy.worker.closed).toBe(true);
    expect(await policy.worker.exited).toBe(1);
    const error = await policy.forward(BATCH).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Sr1Error);
    expect(error).toMatchObject({ code: 'train_worker_closed' });
  });
});

describe('TrainWorker shared by several models', () => {
  it('hosts a policy and a critic that match their in-thread twins; close() ends it', async () => {
    const config: DecoderConfig = { ...CONFIG, tieWordEmbeddings: false };
    const weights = initWeights(config, createRng(11));
    const worker = await TrainWorker.start({ workerUrl });
    const policy = await WorkerTrainablePolicy.create(config, shareWeights(weights), { threads: 1, worker });
    const critic = await WorkerCritic.fromPolicy(config, weights, createRng(3), { threads: 1, worker }, 0.5);
    const localCritic = await OrtCritic.fromPolicy(config, weights, createRng(3), { threads: 1 }, 0.5);
    expect(critic.parameters.has('lm_head.weight')).toBe(false);
    expectSameBuffers(critic.parameters, localCritic.parameters);
    expect(await critic.forward(BATCH)).toEqual(await localCritic.forward(BATCH));
    const upstream = { values: fixedUpstream(BATCH, false).logprobs };
    const grads = await critic.backward(BATCH, upstream);
    expectSameBuffers(grads, await localCritic.backward(BATCH, upstream));
    expect(critic.ledger).toEqual(localCritic.ledger);
    // a critic step on the main thread is seen by the next forward in the worker
    sgdStep(critic.parameters, grads, 0.5);
    sgdStep(localCritic.parameters, grads, 0.5);
    expect(await critic.forward(BATCH)).toEqual(await localCritic.forward(BATCH));
    // disposing one model keeps the shared thread
    await critic.dispose();
    expect(worker.closed).toBe(false);
    await policy.forward(BATCH);
    await worker.close();
    expect(await worker.exited).toBe(1);
    await expect(policy.forward(BATCH)).rejects.toMatchObject({ code: 'train_worker_closed' });
    await policy.dispose(); // no-op on a closed worker
    await localCritic.dispose();
  });
});
