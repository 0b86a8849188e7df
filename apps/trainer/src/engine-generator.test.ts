// The trainer's two generation engines on real parts (a random tiny model on the ONNX engine, a toy
// world's BM25 index): the engine worker with the async loop makes the lock-step loop's greedy
// trajectories, trains on exactly its sampled tokens, seeds each trajectory on its own, and
// generates with the trainer's weights from the policy version after an update.

import { createRng } from '@sr1/core';
import { cloneWeights, initWeights, loadModelFolder, loadTokenizer, OrtDecoderRunner } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { INVALID_ACTION_MESSAGE, type RolloutPrompt, type Trajectory } from '@sr1/rollout';
import { describe, expect, it } from 'vitest';
import { inThreadEngine, trajectorySeed, workerEngine } from './engine-generator.js';
import { TOY_TEMPLATE } from './prompt-options.js';
import { maskedSegments } from './report.js';
import { tinyModelFolder, tinyWorld } from './testing/index.js';

async function parts(seed: number) {
  const modelDir = await tinyModelFolder(seed);
  const world = await tinyWorld();
  const model = await loadModelFolder(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  const retriever = await InProcessRetriever.open(world.index);
  const prompts = (copies: number): RolloutPrompt[] =>
    world.questionList.slice(0, 4).flatMap((q) =>
      Array.from({ length: copies }, (_, k) => ({
        id: `${q.id}#${k}`,
        promptTokenIds: tokenizer.encode(TOY_TEMPLATE.replace('{question}', q.question)),
      })),
    );
  return { modelDir, model, tokenizer, retriever, prompts };
}

const tokens = (trajectories: Trajectory[]) =>
  trajectories.map((t) => [t.responseTokenIds, Array.from(t.sampledMask), t.text]);

describe('the engine worker with the async loop', () => {
  it('greedy: the same trajectories as the in-thread lock-step loop; each turn after the first reuses its KV', async () => {
    const { modelDir, model, tokenizer, retriever, prompts } = await parts(21);
    const config = { maxTurns: 2, maxTokensPerTurn: 12, topk: 2, temperature: 0, seed: 4 };
    const lockstep = inThreadEngine(
      await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 }),
      tokenizer,
    );
    const worker = await workerEngine(
      { config: model.config, weights: model.weights, tokenizerDir: modelDir },
      { threads: 1 },
    );
    try {
      const expected = await lockstep.rollout(prompts(1), { retriever, tokenizer, config });
      const actual = await worker.rollout(prompts(1), { retriever, tokenizer, config });
      expect(expected.some((t) => t.turns > 1)).toBe(true);
      expect(tokens(actual)).toEqual(tokens(expected));
      expect(worker.generatedTokens()).toBe(lockstep.generatedTokens());
      const stats = (await worker.stats())!;
      expect(stats.reusedTokens).toBeGreaterThan(0);
    } finally {
      await Promise.all([lockstep.dispose(), worker.dispose(), retriever.close()]);
    }
  });

  it('sampled: trains on the sampled tokens with their log-probs, masks exactly the inserted blocks, and seeds each trajectory on its own', async () => {
    const { modelDir, model, tokenizer, retriever, prompts } = await parts(22);
    const config = { maxTurns: 2, maxTokensPerTurn: 12, topk: 2, temperature: 1, seed: 9 };
    const worker = await workerEngine(
      { config: model.config, weights: model.weights, tokenizerDir: modelDir },
      { threads: 1 },
    );
    try {
      const trajectories = await worker.rollout(prompts(3), { retriever, tokenizer, config });
      let inserted = 0;
      for (const trajectory of trajectories) {
        const runs = maskedSegments(trajectory.responseTokenIds, trajectory.sampledMask, (ids) =>
          tokenizer.decode(ids),
        );
        for (const run of runs.filter((r) => r.inserted)) {
          inserted++;
          const information =
            run.text.startsWith('\n\n<information>') && run.text.endsWith('</information>\n\n');
          expect(run.text === INVALID_ACTION_MESSAGE || information).toBe(true);
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
      expect(inserted).toBeGreaterThan(0);
      // The 3 rollouts of one prompt share the turn's seed but not their samples.
      for (let q = 0; q < 4; q++) {
        const group = trajectories.slice(3 * q, 3 * q + 3).map((t) => t.responseTokenIds.join(','));
        expect(new Set(group).size).toBeGreaterThan(1);
      }
      // Seeded: the same seed gives the same trajectories, whatever shares the decode steps.
      const again = await worker.rollout(prompts(3).reverse(), { retriever, tokenizer, config });
      expect(tokens(again.reverse())).toEqual(tokens(trajectories));
      expect(trajectorySeed(9, 'a')).not.toBe(trajectorySeed(9, 'b'));
    } finally {
      await Promise.all([worker.dispose(), retriever.close()]);
    }
  });

  it('generates with the trainer weights of the last policy version', async () => {
    const { modelDir, model, tokenizer, retriever, prompts } = await parts(23);
    const config = { maxTurns: 1, maxTokensPerTurn: 10, topk: 2, temperature: 0 };
    const weights = cloneWeights(model.weights); // the trainer's buffers, updated in place
    const worker = await workerEngine(
      { config: model.config, weights, tokenizerDir: modelDir },
      { threads: 1 },
    );
    try {
      const before = await worker.rollout(prompts(1), { retriever, tokenizer, config });
      // An "optimizer step": every weight takes another random model's value (std 0.5: peaked
      // distributions, where the default init's greedy text repeats one token whatever the seed).
      const other = initWeights(model.config, createRng(24), 0.5);
      for (const [name, tensor] of weights) tensor.data.set(other.get(name)!.data);
      const unpublished = await worker.rollout(prompts(1), { retriever, tokenizer, config });
      expect(tokens(unpublished)).toEqual(tokens(before));
      await worker.setPolicyVersion(1);
      const after = await worker.rollout(prompts(1), { retriever, tokenizer, config });
      const reference = inThreadEngine(
        await OrtDecoderRunner.create(model.config, weights, { threads: 1 }),
        tokenizer,
      );
      const expected = await reference.rollout(prompts(1), { retriever, tokenizer, config });
      await reference.dispose();
      expect(tokens(after)).toEqual(tokens(expected));
      expect(tokens(after)).not.toEqual(tokens(before));
      expect((await worker.stats())!.policyVersion).toBe(1);
    } finally {
      await Promise.all([worker.dispose(), retriever.close()]);
    }
  });
});
