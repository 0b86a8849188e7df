// End to end on real parts: a random tiny model on the ONNX engine, the real BM25 retriever
// (in-process and over HTTP), the rollout loop, SFT and GRPO steps with checkpoints and resume.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { type EngineWorker, loadModelFolder, loadTokenizer, OrtDecoderRunner, TrainWorker } from '@sr1/model';
import { HttpRetriever, InProcessRetriever, loadIndex, startServer } from '@sr1/retriever';
import { INVALID_ACTION_MESSAGE, informationBlock, type Retriever, runRollout } from '@sr1/rollout';
import { loadLatestCheckpoint } from '@sr1/train';
import { describe, expect, it, vi } from 'vitest';
import { COMMITTED_KNOWN_FACTS_POLICY } from './cli.js';
import { engineGenerator } from './engine-generator.js';
import { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
import { maskedSegments } from './report.js';
import { parseRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { parseSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import { readMetrics, tinyModelFolder, tinyPpoJson, tinyWorld } from './testing/index.js';
import { BASE_POLICY_MIX, demonstrations } from './toy-data.js';

describe('rollout of a random tiny model with a real retriever', () => {
  it.each(['in-process', 'http'] as const)(
    'masks exactly the inserted tokens (%s retriever)',
    async (kind) => {
      const modelDir = await tinyModelFolder(3);
      const world = await tinyWorld();
      const model = await loadModelFolder(modelDir);
      const tokenizer = await loadTokenizer(modelDir);
      const runner = await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 });
      let retriever: Retriever;
      let close = async () => {};
      if (kind === 'http') {
        const server = await startServer({ index: await loadIndex(world.index), port: 0, host: '127.0.0.1' });
        retriever = new HttpRetriever({ url: `${server.url}/retrieve` });
        close = () => server.close();
      } else {
        retriever = await InProcessRetriever.open(world.index);
      }
      const trajectories = await runRollout(
        world.questionList
          .slice(0, 4)
          .map((q) => ({ id: q.id, promptTokenIds: tokenizer.encode(q.question) })),
        {
          generator: engineGenerator(runner, tokenizer).generator,
          retriever,
          tokenizer,
          config: { maxTurns: 2, maxTokensPerTurn: 12, topk: 2, temperature: 1, seed: 5 },
        },
      );
      let insertedRuns = 0;
      for (const trajectory of trajectories) {
        // Every maximal run of mask-0 tokens decodes to exactly one inserted block, and every run of
        // mask-1 tokens carries the sampled tokens' log-probs.
        const runs = maskedSegments(trajectory.responseTokenIds, trajectory.sampledMask, (ids) =>
          tokenizer.decode(ids),
        );
        for (const run of runs.filter((r) => r.inserted)) {
          insertedRuns++;
          const isInformation =
            run.text.startsWith('\n\n<information>') && run.text.endsWith('</information>\n\n');
          expect(run.text === INVALID_ACTION_MESSAGE || isInformation).toBe(true);
        }
        expect(runs.filter((r) => r.inserted).length).toBe(
          trajectory.searches.length + trajectory.invalidActions,
        );
        expect(runs.map((r) => r.text).join('')).toBe(trajectory.text);
        trajectory.responseTokenIds.forEach((_, i) => {
          if (trajectory.sampledMask[i] === 1) expect(trajectory.logProbs[i]).toBeLessThan(0);
          else expect(trajectory.logProbs[i]).toBe(0);
        });
      }
      expect(insertedRuns).toBeGreaterThan(0);
      await close();
      await runner.dispose();
    },
  );

  it('inserts the information block the protocol defines, token for token', async () => {
    const world = await tinyWorld();
    const modelDir = await tinyModelFolder(4);
    const tokenizer = await loadTokenizer(modelDir);
    const retriever = await InProcessRetriever.open(world.index);
    const question = world.questionList[0]!;
    // A scripted search through the real loop: the policy's first turn is forced by the prompt text.
    const hits = await retriever.search([question.plan[0]!], 3);
    const block = informationBlock(hits[0]!);
    expect(block.startsWith('\n\n<information>Doc 1(Title: "')).toBe(true);
    expect(tokenizer.decode(tokenizer.encode(block))).toBe(block);
  });
});

describe('training pipeline on the engine', () => {
  it('SFT lowers the loss on toy demonstrations and resumes from its checkpoint', async () => {
    const world = await tinyWorld(9);
    const modelDir = await tinyModelFolder(5);
    const tokenizer = await loadTokenizer(modelDir);
    const retriever = await InProcessRetriever.open(world.index);
    const demos = await demonstrations(
      world.world,
      world.questionList,
      BASE_POLICY_MIX,
      retriever,
      tokenizer,
      createRng(1),
      promptOptions({ template: TOY_TEMPLATE, chatTemplate: false }),
    );
    const data = join(world.dir, 'sft.jsonl');
    await writeFile(data, demos.map((d) => `${JSON.stringify({ segments: d.segments })}\n`).join(''));
    const config = parseSftConfig({
      model: { path: modelDir },
      data: { train: data, maxLength: 256 },
      training: { steps: 6, batchSize: 4, microBatchSize: 2, lr: 3e-3, schedule: 'constant', seed: 2 },
      output: { dir: join(world.dir, 'sft'), saveEvery: 3 },
      engine: { threads: 1 },
    });
    const first = await runSft(
      { ...config, training: { ...config.training, steps: 3 } },
      { resume: false, quiet: true },
    );
    const resumed = await runSft(config, { resume: true, quiet: true });
    const straight = await runSft(
      { ...config, output: { ...config.output, dir: join(world.dir, 'sft-straight') } },
      { resume: false, quiet: true },
    );
    const resumedLosses = (await readMetrics(config.output.dir)).map((m) => m.loss);
    const straightLosses = (await readMetrics(join(world.dir, 'sft-straight'))).map((m) => m.loss);
    expect(first.steps).toBe(3);
    expect(resumedLosses.length).toBe(6);
    for (let i = 0; i < 6; i++) expect(resumedLosses[i]).toBeCloseTo(straightLosses[i]!, 4);
    expect(straight.lastLoss).toBeLessThan(straightLosses[0]!);
    expect(resumed.lastLoss).toBeCloseTo(straight.lastLoss, 4);
  });

  it('PPO (critic, GAE, KL in the reward) runs end to end and resumes after a stop', async () => {
    const world = await tinyWorld(12);
    const modelDir = await tinyModelFolder(7);
    const base = tinyPpoJson(world, modelDir, 3);
    const straight = parseRlConfig({
      ...base,
      steps: 2,
      output: { dir: join(world.dir, 'ppo-straight'), saveEvery: 1 },
    });
    await runRl(straight, { resume: false, quiet: true });
    const stopped = parseRlConfig({
      ...base,
      steps: 1,
      output: { dir: join(world.dir, 'ppo-resumed'), saveEvery: 1 },
    });
    await runRl(stopped, { resume: false, quiet: true });
    const resumed = parseRlConfig({
      ...base,
      steps: 2,
      output: { dir: join(world.dir, 'ppo-resumed'), saveEvery: 1 },
    });
    await runRl(resumed, { resume: true, quiet: true });
    const a = await readMetrics(straight.output.dir, true);
    const b = await readMetrics(resumed.output.dir, true);
    expect(a.map((m) => m.step)).toEqual([1, 2]);
    expect(b.map((m) => m.step)).toEqual([1, 2]);
    expect(a[1]!['critic/vf_loss']).toBeDefined();
    // The reference stays the base policy: after one update the KL penalty is no longer zero.
    expect(a[0]!['critic/kl']).toBe(0);
    expect(a[1]!['critic/kl']).not.toBe(0);
    for (const key of [
      'reward/mean',
      'actor/pg_loss',
      'critic/vf_loss',
      'critic/kl',
      'response_length/mean',
    ]) {
      expect(b[1]![key]).toBeCloseTo(a[1]![key]!, 4);
    }
  });

  it.each([
    ['async-worker', true],
    ['lockstep', true],
    ['lockstep', false],
  ] as const)(
    'GRPO runs end to end on a toy world (rollout %s, train worker %s), writes metrics and a checkpoint',
    async (rollout, worker) => {
      const world = await tinyWorld(11);
      const modelDir = await tinyModelFolder(6);
      // 13 prompts per step from 12 questions: every step crosses an epoch boundary, so one
      // question fills two slots of a step (its rollouts must stay distinct trajectories and groups).
      expect(world.questionList.length).toBe(12);
      const config = parseRlConfig({
        policy: modelDir,
        index: world.index,
        data: { train: world.questions, validation: world.questions, validationLimit: 3 },
        preset: 'grpo',
        steps: 2,
        promptsPerStep: 13,
        rolloutsPerPrompt: 2,
        microBatchSize: 2,
        actorLr: 1e-4,
        prompt: { template: TOY_TEMPLATE, chatTemplate: false },
        rollout: { maxTurns: 1, maxTokensPerTurn: 8, topk: 2 },
        output: { dir: join(world.dir, 'rl'), saveEvery: 1 },
        engine: { threads: 1, rollout, worker },
      });
      // Where training runs: with the async engine, in the engine worker's thread (one worker thread).
      const over = TrainWorker.over.bind(TrainWorker);
      const threads: [number, number][] = [];
      const overSpy = vi.spyOn(TrainWorker, 'over').mockImplementation(async (engine: EngineWorker) => {
        const trainWorker = await over(engine);
        threads.push([await trainWorker.thread(), await engine.thread()]);
        return trainWorker;
      });
      const startSpy = vi.spyOn(TrainWorker, 'start');
      let calls = { over: 0, start: 0 };
      const result = await runRl(config, { resume: false, quiet: true }).finally(() => {
        calls = { over: overSpy.mock.calls.length, start: startSpy.mock.calls.length };
        overSpy.mockRestore();
        startSpy.mockRestore();
      });
      expect(calls).toEqual({
        over: worker && rollout === 'async-worker' ? 1 : 0,
        start: worker && rollout === 'lockstep' ? 1 : 0,
      });
      expect(threads).toHaveLength(calls.over);
      for (const [trainThread, engineThread] of threads) expect(trainThread).toBe(engineThread);
      expect(result.steps).toBe(2);
      const steps = await readMetrics(config.output.dir, true);
      expect(steps.map((m) => m.step)).toEqual([1, 2]);
      expect(steps[0]!['grpo/groups']).toBe(13);

      expect(Number.isFinite(steps[1]!['actor/pg_loss'])).toBe(true);
      // The k3 KL to the frozen reference: zero before the first update, positive after it.
      expect(steps[0]!['actor/kl_loss']).toBe(0);
      expect(steps[1]!['actor/kl_loss']).toBeGreaterThan(0);
      expect(result.validations.map((v) => v.step)).toEqual([0, 1, 2]);
    },
  );
  it('GRPO with a search cost and the query cache: the committed known-facts base searches, each search costs c and is a hit or a miss', async () => {
    const world = await tinyWorld(12);
    const config = parseRlConfig({
      policy: COMMITTED_KNOWN_FACTS_POLICY,
      index: world.index,
      data: { train: world.questions, validation: world.questions, validationLimit: 2 },
      preset: 'grpo',
      steps: 1,
      promptsPerStep: 4,
      rolloutsPerPrompt: 4,
      microBatchSize: 4,
      actorLr: 2e-5,
      prompt: { template: TOY_TEMPLATE, chatTemplate: false },
      rollout: { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3 },
      output: { dir: join(world.dir, 'rl-cost'), saveEvery: 1 },
      engine: { threads: 1 },
      searchCost: { kind: 'additive', c: 0.25 },
      seed: 3,
    });
    const result = await runRl(config, { resume: false, quiet: true });
    const [step] = await readMetrics(config.output.dir, true);
    const searches = step!['rollout/searches_per_question']!;
    expect(searches).toBeGreaterThan(0); // the base policy searches (the probe: 42 of 48 unseen questions)
    // The additive cost takes c per search from each rollout's reward, logged as its mean.
    expect(step!['reward/search_cost']).toBeCloseTo(0.25 * searches, 12);
    // Every rollout search went through the query cache, as a hit or a miss (16 rollouts).
    const { hits, misses } = result.searchCache!;
    expect(hits + misses).toBe(Math.round(16 * searches));
    expect(step!['retrieval/cache_hits']).toBe(hits);
    expect(step!['retrieval/cache_misses']).toBe(misses);
    expect(misses).toBeGreaterThan(0);
  });

  it('maxSearches: past the budget a search is refused (counted, never sent to the retriever)', async () => {
    const world = await tinyWorld(12);
    const config = parseRlConfig({
      policy: COMMITTED_KNOWN_FACTS_POLICY,
      index: world.index,
      data: { train: world.questions, validation: world.questions, validationLimit: 2 },
      preset: 'grpo',
      steps: 1,
      promptsPerStep: 4,
      rolloutsPerPrompt: 4,
      microBatchSize: 4,
      actorLr: 2e-5,
      prompt: { template: TOY_TEMPLATE, chatTemplate: false },
      rollout: { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3, maxSearches: 0 },
      output: { dir: join(world.dir, 'rl-budget'), saveEvery: 1 },
      engine: { threads: 1 },
      seed: 3,
    });
    const result = await runRl(config, { resume: false, quiet: true });
    const [step] = await readMetrics(config.output.dir, true);
    // The base policy searches (the additive-cost test above): every one of its searches is refused.
    expect(step!['rollout/searches_per_question']).toBe(0);
    expect(step!['rollout/searches_refused_per_question']).toBeGreaterThan(0);
    expect(result.searchCache!.hits + result.searchCache!.misses).toBe(0);
  });

  it('grpoNormalizeByStd false reaches the update: the same rollouts get their centred rewards, undivided', async () => {
    const world = await tinyWorld(12);
    const json = (dir: string, normalize: boolean) => ({
      policy: COMMITTED_KNOWN_FACTS_POLICY,
      index: world.index,
      data: { train: world.questions, validation: world.questions, validationLimit: 1 },
      preset: 'grpo',
      steps: 1,
      promptsPerStep: 4,
      rolloutsPerPrompt: 4,
      microBatchSize: 8,
      actorLr: 2e-5,
      grpoNormalizeByStd: normalize,
      prompt: { template: TOY_TEMPLATE, chatTemplate: false },
      rollout: { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3 },
      output: { dir: join(world.dir, dir), saveEvery: 1 },
      validateEvery: 10,
      engine: { threads: 1 },
      seed: 4,
    });
    await runRl(parseRlConfig(json('grpo-std', true)), { resume: false, quiet: true });
    await runRl(parseRlConfig(json('grpo-no-std', false)), { resume: false, quiet: true });
    const [std] = await readMetrics(join(world.dir, 'grpo-std'), true);
    const [plain] = await readMetrics(join(world.dir, 'grpo-no-std'), true);
    // One seed, one policy: the same rollouts and rewards (EM, 0 or 1) in both runs.
    expect(plain!['reward/mean']).toBe(std!['reward/mean']);
    expect(std!['grpo/zero_std_groups']).toBeLessThan(4); // some group has a right and a wrong answer
    // 4 rollouts with 0/1 rewards: centred, a group's advantages are ±0.25, ±0.5 or ±0.75, so the
    // batch's spread is at most 1.5; divided by the group's std (0.5 or 0.58) it is at least 1.73.
    const spread = (m: Record<string, number>) => m['critic/advantages/max']! - m['critic/advantages/min']!;
    expect(spread(std!)).toBeGreaterThan(1.7);
    expect(spread(plain!)).toBeLessThanOrEqual(1.5 + 1e-9);
    expect(spread(plain!)).toBeGreaterThan(0);
  });

  it("OTC's n* per question survives a checkpoint: a resumed run costs searches as the uninterrupted one", async () => {
    const world = await tinyWorld(12);
    // Three questions, all in every step: step 2's costs depend on the n* that step 1 observed.
    const train = join(world.dir, 'otc-train.jsonl');
    await writeFile(
      train,
      `${(await readFile(world.questions, 'utf8')).trim().split('\n').slice(0, 3).join('\n')}\n`,
    );
    const json = (dir: string, steps: number) => ({
      policy: COMMITTED_KNOWN_FACTS_POLICY,
      index: world.index,
      data: { train, validation: train, validationLimit: 1 },
      preset: 'grpo',
      steps,
      promptsPerStep: 3,
      rolloutsPerPrompt: 4,
      microBatchSize: 6,
      actorLr: 2e-5,
      prompt: { template: TOY_TEMPLATE, chatTemplate: false },
      rollout: { maxTurns: 3, maxTokensPerTurn: 96, maxObsTokens: 200, topk: 3 },
      output: { dir: join(world.dir, dir), saveEvery: 1 },
      validateEvery: 10,
      engine: { threads: 1 },
      searchCost: { kind: 'otc', c: 2 },
      seed: 5,
    });
    await runRl(parseRlConfig(json('otc-straight', 2)), { resume: false, quiet: true });
    await runRl(parseRlConfig(json('otc-resumed', 1)), { resume: false, quiet: true });
    const checkpoint = await loadLatestCheckpoint(join(world.dir, 'otc-resumed'));
    const saved = (checkpoint?.trainerState as { minimalSearches?: [string, number][] } | undefined)
      ?.minimalSearches;
    expect(saved?.length).toBeGreaterThan(0); // step 1 answered some question correctly
    await runRl(parseRlConfig(json('otc-resumed', 2)), { resume: true, quiet: true });
    const a = await readMetrics(join(world.dir, 'otc-straight'), true);
    const b = await readMetrics(join(world.dir, 'otc-resumed'), true);
    expect(b.map((m) => m.step)).toEqual([1, 2]);
    for (const key of ['reward/mean', 'reward/search_cost', 'rollout/searches_per_question', 'actor/pg_loss'])
      expect(b[1]![key], key).toBe(a[1]![key]);
  });

  it('the engine worker path is repeatable: two runs of one seed (one thread) write the same metrics and weights', async () => {
    const world = await tinyWorld(14);
    const modelDir = await tinyModelFolder(10);
    const json = (dir: string) => ({
      policy: modelDir,
      index: world.index,
      data: { train: world.questions, validation: world.questions, validationLimit: 3 },
      preset: 'grpo',
      steps: 3,
      promptsPerStep: 6,
      rolloutsPerPrompt: 3,
      microBatchSize: 6,
      actorLr: 1e-3,
      prompt: { template: TOY_TEMPLATE, chatTemplate: false },
      rollout: { maxTurns: 2, maxTokensPerTurn: 10, topk: 2 },
      output: { dir: join(world.dir, dir), saveEvery: 3 },
      engine: { threads: 1, rollout: 'async-worker' },
      seed: 8,
    });
    await runRl(parseRlConfig(json('a')), { resume: false, quiet: true });
    await runRl(parseRlConfig(json('b')), { resume: false, quiet: true });
    const drop = (m: Record<string, number>) =>
      Object.fromEntries(Object.entries(m).filter(([key]) => !/^(timing|perf)\/|_s$|_s_est$/.test(key)));
    const a = (await readMetrics(join(world.dir, 'a'))).map(drop);
    const b = (await readMetrics(join(world.dir, 'b'))).map(drop);
    expect(a.filter((m) => m['reward/mean'] !== undefined)).toHaveLength(3);
    expect(b).toEqual(a);
    const weights = async (dir: string) =>
      (await loadModelFolder((await loadLatestCheckpoint(join(world.dir, dir)))!.dir)).weights;
    const [wa, wb] = [await weights('a'), await weights('b')];
    for (const [name, tensor] of wa)
      expect(Array.from(wb.get(name)!.data), name).toEqual(Array.from(tensor.data));
  });
});
