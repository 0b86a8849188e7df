import { rm } from 'node:fs/promises';
import { encodePrompt, runAsyncRollout, runRollout, type Trajectory } from '@sr1/rollout';
import { InMemoryRetriever } from '@sr1/rollout/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelFolder } from '../formats/model-folder.js';
import { OrtDecoderRunner } from '../graphs/index.js';
import { generatorFromEngine } from '../serving/generator-from-engine.js';
import { tinyModelFolder } from '../testing/index.js';
import { loadTokenizer, type ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './generate.js';
import { ContinuousBatchScheduler } from './scheduler.js';
import { sessionGenerator } from './session-generator.js';
import { testWorkerUrl } from './test-worker.js';
import { EngineWorker } from './worker-client.js';

let dir: string;
let tokenizer: Tokenizer;
let runner: OrtDecoderRunner;

beforeAll(async () => {
  dir = await tinyModelFolder(9);
  const model = await loadModelFolder(dir);
  tokenizer = await loadTokenizer(dir);
  runner = await OrtDecoderRunner.create(model.config, model.weights);
});
afterAll(async () => {
  await runner?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const QUESTIONS = [
  'who was the last person on the moon?',
  'capital of France',
  'when did the Beatles split?',
];
// greedy, short turns: the random model writes no action, so every turn but the last appends the
// invalid-action message (mask 0) and the next one continues the session on top of it
const CONFIG = { maxTurns: 2, maxTokensPerTurn: 12, temperature: 0, seed: 2 };

function prompts() {
  return QUESTIONS.map((question, i) => ({ id: `t${i}`, promptTokenIds: encodePrompt(question, tokenizer) }));
}

function lockStep(): Promise<Trajectory[]> {
  const generator = generatorFromEngine((batch, options) => generate(runner, tokenizer, batch, options), {
    tokenizer,
  });
  return runRollout(prompts(), { generator, retriever: new InMemoryRetriever(), tokenizer, config: CONFIG });
}

function expectSameTrajectories(actual: Trajectory[], expected: Trajectory[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((trajectory, i) => {
    const reference = expected[i]!;
    expect(trajectory.responseTokenIds).toEqual(reference.responseTokenIds);
    expect(Array.from(trajectory.sampledMask)).toEqual(Array.from(reference.sampledMask));
    expect(trajectory.text).toBe(reference.text);
    expect(trajectory.finishReason).toBe(reference.finishReason);
    expect(trajectory.turns).toBe(reference.turns);
    trajectory.logProbs.forEach((logprob, j) => {
      expect(Math.abs(logprob - reference.logProbs[j]!)).toBeLessThan(1e-5);
    });
  });
}

describe('runAsyncRollout on a real tiny engine equals the lock-step loop (greedy)', () => {
  it('with the in-process scheduler: each turn after the first continues the cached session', async () => {
    const expected = await lockStep();
    expect(expected.every((trajectory) => trajectory.turns === 3)).toBe(true);
    expect(expected.every((trajectory) => trajectory.sampledMask.includes(0))).toBe(true);
    const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
    const actual = await runAsyncRollout(prompts(), {
      sessions: sessionGenerator(scheduler),
      retriever: new InMemoryRetriever(),
      tokenizer,
      config: CONFIG,
    });
    expectSameTrajectories(actual, expected);
    const stats = scheduler.stats();
    // prompts once, then per continued turn only the last sampled token and the inserted message
    const inserted = expected.reduce((sum, t) => sum + t.sampledMask.filter((m) => m === 0).length, 0);
    const promptTokens = prompts().reduce((sum, prompt) => sum + prompt.promptTokenIds.length, 0);
    expect(stats.prefillTokens).toBe(promptTokens + inserted + 2 * QUESTIONS.length);
    expect(stats.reusedTokens).toBeGreaterThan(promptTokens);
    expect(scheduler.sessionCount).toBe(0); // every session released
  });

  it('with the engine worker', async () => {
    const expected = await lockStep();
    const engine = await EngineWorker.start({ modelDir: dir, workerUrl: await testWorkerUrl() });
    try {
      const actual = await runAsyncRollout(prompts(), {
        sessions: sessionGenerator(engine, { tokenizer }),
        retriever: new InMemoryRetriever(),
        tokenizer,
        config: CONFIG,
      });
      expectSameTrajectories(actual, expected);
    } finally {
      await engine.close();
    }
  });
});
