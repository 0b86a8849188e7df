import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PrecisionError } from '../errors.js';
import { type LoadedModel, loadModelFolder } from '../formats/model-folder.js';
import { cloneWeights } from '../formats/weights.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { SMALL_TOKENIZER, tinyModelFolder } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { GenerationAbortedError, generate } from './generate.js';
import { ContinuousBatchScheduler } from './scheduler.js';
import { scoreSequences } from './score.js';
import { shareWeights } from './shared-weights.js';
import { testWorkerUrl } from './test-worker.js';
import { EngineWorker } from './worker-client.js';

let dir: string;
let model: LoadedModel;
let tokenizer: Tokenizer;
let runner: OrtDecoderRunner;
let engine: EngineWorker;
let workerUrl: URL;

beforeAll(async () => {
  dir = await tinyModelFolder(5);
  model = await loadModelFolder(dir);
  tokenizer = await loadTokenizer(dir);
  runner = await OrtDecoderRunner.create(model.config, model.weights);
  workerUrl = await testWorkerUrl();
  engine = await EngineWorker.start({ modelDir: dir, workerUrl });
});
afterAll(async () => {
  await engine?.close();
  await runner?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const prompts = () =>
  ['The capital of France is', '<search> moon </search>', 'Who'].map((text) => tokenizer.encode(text));

/** setImmediate ticks the main thread runs until `work` settles. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
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
}

describe('EngineWorker (the engine in a worker_thread)', () => {
  it('generates and scores exactly as the in-process engine', async () => {
    const options = { maxNewTokens: 8, temperature: 0.8, topP: 0.9, seed: 3, stop: ['</answer>'] };
    const streamed: [number, number][] = [];
    const remote = await engine.generate(prompts(), {
      ...options,
      onToken: (sequence, tokenId) => streamed.push([sequence, tokenId]),
    });
    const local = await generate(runner, tokenizer, prompts(), options);
    expect(remote).toEqual(local);
    expect(streamed.filter(([sequence]) => sequence === 1).map(([, id]) => id)).toEqual(local[1]!.tokenIds);
    const sequences = prompts().map((prompt, i) => [...prompt, ...local[i]!.tokenIds]);
    expect(await engine.score(sequences)).toEqual(await scoreSequences(runner, sequences));
  });

  it('keeps the main thread free while a forward pass runs in the worker', async () => {
    // one long forward: a batch of 4 sequences of 400 tokens, scored with full logits
    const long = tokenizer.encode('the moon landing was in 1972 and '.repeat(40)).slice(0, 400);
    const batch = Array.from({ length: 4 }, () => long);
    const inWorker = await ticksDuring(() => engine.score(batch));
    const inProcess = await ticksDuring(() => scoreSequences(runner, batch));
    // In process the pass and the log-softmax block the thread: a tick or two at its edges.
    expect(inProcess).toBeLessThan(10);
    expect(inWorker).toBeGreaterThan(10 * inProcess + 20);
  });

  it('cancels a generation through its AbortSignal and stays usable', async () => {
    const controller = new AbortController();
    let tokens = 0;
    const running = engine.generate([prompts()[0]!], {
      maxNewTokens: 400,
      temperature: 0,
      eosTokenIds: [],
      signal: controller.signal,
      onToken: () => {
        tokens += 1;
        if (tokens === 5) controller.abort();
      },
    });
    await expect(running).rejects.toBeInstanceOf(GenerationAbortedError);
    expect(tokens).toBeLessThan(400);
    const [after] = await engine.generate([prompts()[2]!], { maxNewTokens: 3, temperature: 0 });
    expect(after!.tokenIds.length).toBeGreaterThan(0);
  });

  it('carries per-sequence signals: an aborted row stops in the worker, the others go on', async () => {
    const options = { maxNewTokens: 40, temperature: 0, eosTokenIds: [] };
    const local = await generate(runner, tokenizer, prompts(), options);
    const controller = new AbortController();
    let seen = 0;
    const remote = await engine.generate(prompts(), {
      ...options,
      sequenceSignals: [undefined, controller.signal, AbortSignal.abort()],
      onToken: (sequence) => {
        if (sequence === 1 && ++seen === 3) controller.abort(); // a client that disconnects
      },
    });
    // row 1 stopped a few tokens after its abort; row 2, aborted before the request, after its first token
    expect(remote[1]!.finishReason).toBe('length');
    expect(remote[1]!.tokenIds.length).toBeGreaterThanOrEqual(3);
    expect(remote[1]!.tokenIds.length).toBeLessThan(40);
    expect(remote[1]!.tokenIds).toEqual(local[1]!.tokenIds.slice(0, remote[1]!.tokenIds.length));
    expect(remote[2]!.tokenIds).toEqual(local[2]!.tokenIds.slice(0, 1));
    // row 0 ran to the end, token for token what it is in process
    expect(remote[0]!.tokenIds).toEqual(local[0]!.tokenIds);
    remote[0]!.logprobs.forEach((logprob, i) => {
      expect(Math.abs(logprob - local[0]!.logprobs[i]!)).toBeLessThan(1e-5);
    });
  });

  it('runs scheduled session turns: start, continue on the cached prefix, release', async () => {
    const local = new ContinuousBatchScheduler(runner, tokenizer);
    const options = { maxNewTokens: 6, temperature: 0, eosTokenIds: [] };
    const append = tokenizer.encode('\n\n<information>x</information>\n\n');
    const [remote, mine] = await Promise.all([
      engine.start(prompts()[0]!, options),
      local.start(prompts()[0]!, options),
    ]);
    expect(remote.result).toEqual(mine.result);
    const remoteNext = await engine.continue(remote.session, append, options);
    const localNext = await local.continue(mine.session, append, options);
    expect(remoteNext).toEqual(localNext);
    expect(remoteNext.prefilledTokens).toBe(append.length + 1);
    engine.release(remote.session);
    await expect(engine.continue(remote.session, append, options)).rejects.toMatchObject({
      code: 'unknown_session',
    });
  });

  it('an aborted session turn retires only its own row: the other sessions finish as if alone', async () => {
    const local = new ContinuousBatchScheduler(runner, tokenizer);
    const options = { maxNewTokens: 12, temperature: 0, eosTokenIds: [] };
    const [first, second] = await Promise.all([
      engine.start(prompts()[0]!, options),
      engine.start(prompts()[1]!, options),
    ]);
    // Both continue at once; the first is cancelled after a few tokens of its second turn.
    const controller = new AbortController();
    let tokens = 0;
    const append = tokenizer.encode(' and then');
    const doomed = engine.continue(first.session, append, {
      ...options,
      maxNewTokens: 400,
      signal: controller.signal,
      onToken: () => {
        tokens += 1;
        if (tokens === 3) controller.abort();
      },
    });
    const survivor = engine.continue(second.session, append, options);
    await expect(doomed).rejects.toBeInstanceOf(GenerationAbortedError);
    expect(tokens).toBeLessThan(400);
    const mine = await local.start(prompts()[1]!, options);
    const alone = await local.continue(mine.session, append, options);
    const { logprobs, ...rest } = await survivor;
    const { logprobs: aloneLogprobs, ...aloneRest } = alone;
    expect(rest).toEqual(aloneRest); // tokens, text, finish, prefilled and reused counts
    // log-probs up to float summation order (it shared its decode batch with the aborted row)
    logprobs.forEach((logprob, i) => {
      expect(Math.abs(logprob - aloneLogprobs[i]!)).toBeLessThan(1e-5);
    });
    // the aborted turn released its session; the survivor's is still there
    await expect(engine.continue(first.session, append, options)).rejects.toMatchObject({
      code: 'unknown_session',
    });
    engine.release(second.session);
    // a signal aborted before the request never reaches the worker
    await expect(
      engine.start(prompts()[2]!, { ...options, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(GenerationAbortedError);
  });

  it('runs in float16 (half KV cache in the scheduler) as the in-thread float16 runner does; refuses bfloat16 on CPU', async () => {
    await expect(EngineWorker.start({ modelDir: dir, workerUrl, precision: 'bfloat16' })).rejects.toThrow(
      PrecisionError,
    );
    const half = await EngineWorker.start({ modelDir: dir, workerUrl, precision: 'float16' });
    const halfRunner = await OrtDecoderRunner.create(model.config, model.weights, { precision: 'float16' });
    try {
      const scored = await half.score(prompts());
      expect(scored).toEqual(await scoreSequences(halfRunner, prompts()));
      expect(scored).not.toEqual(await scoreSequences(runner, prompts()));
      const local = new ContinuousBatchScheduler(halfRunner, tokenizer);
      const options = { maxNewTokens: 6, temperature: 0, eosTokenIds: [] };
      const append = tokenizer.encode('\n\n<information>x</information>\n\n');
      const remote = await half.start(prompts()[0]!, options);
      const mine = await local.start(prompts()[0]!, options);
      expect(remote.result).toEqual(mine.result);
      expect(await half.continue(remote.session, append, options)).toEqual(
        await local.continue(mine.session, append, options),
      );
    } finally {
      await half.close();
      await halfRunner.dispose();
    }
  });

  it.each(['inputs', 'initializers'] as const)(
    'shared weights (%s): the worker sees a trainer update at the next policy version, not before',
    async (weightsAs) => {
      const weights = shareWeights(model.weights);
      const shared = await EngineWorker.start({
        shared: { config: model.config, weights, tokenizerDir: SMALL_TOKENIZER },
        workerUrl,
        weightsAs,
      });
      // Initializers fold q/k/v into one MatMul: the same greedy tokens, log-probs equal to ~1e-5.
      const comparable = (sequences: { tokenIds: number[] }[]) =>
        weightsAs === 'inputs' ? sequences : sequences.map((sequence) => sequence.tokenIds);
      try {
        const options = { maxNewTokens: 6, temperature: 0, eosTokenIds: [] };
        const before = await shared.generate(prompts(), options);
        expect(comparable(before)).toEqual(comparable(await generate(runner, tokenizer, prompts(), options)));
        // an in-place update, as an optimiser step makes it
        for (const tensor of weights.values())
          for (let i = 0; i < tensor.data.length; i += 3) tensor.data[i]! *= -1;
        expect(await shared.generate(prompts(), options)).toEqual(before); // still the old snapshot
        await shared.setPolicyVersion(1);
        const updated = await OrtDecoderRunner.create(model.config, cloneWeights(weights)); // ORT reads no shared memory
        const expected = await generate(updated, tokenizer, prompts(), options);
        await updated.dispose();
        const after = await shared.generate(prompts(), options);
        expect(comparable(after)).toEqual(comparable(expected));
        expect(after.map((sequence) => sequence.tokenIds)).not.toEqual(
          before.map((sequence) => sequence.tokenIds),
        );
        expect((await shared.stats()).policyVersion).toBe(1);
      } finally {
        await shared.close();
      }
    },
  );
});
