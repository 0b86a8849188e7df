import { createRng, InvalidInputError } from '@sr1/core';
import { AdamW } from '@sr1/optim';
import { describe, expect, it } from 'vitest';
import { NonFiniteStepGuard } from './non-finite.js';
import { makeTokenBatch } from './policy.js';
import { buildRlBatch, type RlSample } from './rl-batch.js';
import { type AdvantageEstimator, type RlUpdateOptions, rlUpdate } from './rl-update.js';
import { BigramPolicy } from './testing/index.js';

const OPTIONS: RlUpdateOptions = {
  advantage: 'grpo',
  maskRetrievedTokens: true,
  ppoEpochs: 1,
  miniBatchSize: 8,
  microBatchSize: 4,
  clipRatio: 0.2,
  entropyCoef: 0,
  klMode: 'none',
  klCoef: 0.001,
  klEstimator: 'k3',
  gamma: 1,
  lambda: 1,
  valueClip: 0.5,
  grpoNormalizeByStd: true,
  aggregation: 'token-mean',
  maxGradNorm: 1,
};

function sample(policy: BigramPolicy, prev: number, rng: ReturnType<typeof createRng>): number {
  let u = rng.next();
  for (let token = 0; token < policy.vocabSize; token++) {
    u -= policy.probability(prev, token);
    if (u <= 0) return token;
  }
  return policy.vocabSize - 1;
}

describe('rlUpdate', () => {
  it.each(['grpo', 'rloo'] as const)(
    '%s raises the probability of the rewarded answer (seed 4)',
    async (advantage) => {
      const rng = createRng(4);
      const actor = new BigramPolicy(4, createRng(1));
      const before = actor.probability(0, 2);
      const models = { actor, actorOptimizer: new AdamW({ weightDecay: 0 }), actorLr: 0.05 };
      for (let step = 0; step < 50; step++) {
        const samples: RlSample[] = [];
        for (let prompt = 0; prompt < 2; prompt++) {
          for (let k = 0; k < 4; k++) {
            const answer = sample(actor, 0, rng);
            samples.push({
              promptId: `s${step}-p${prompt}`,
              promptTokens: [0],
              responseTokens: [answer],
              sampledMask: [1],
              reward: answer === 2 ? 1 : 0,
            });
          }
        }
        await rlUpdate(samples, models, { ...OPTIONS, advantage }, rng);
      }
      expect(before).toBeLessThan(0.4);
      expect(actor.probability(0, 2)).toBeGreaterThan(0.8);
    },
  );

  it('PPO with a critic and KL in the reward learns too and reports critic metrics', async () => {
    const rng = createRng(7);
    const actor = new BigramPolicy(4, createRng(1));
    const reference = new BigramPolicy(4, createRng(1));
    const critic = new BigramPolicy(4, createRng(2));
    const models = {
      actor,
      actorOptimizer: new AdamW({ weightDecay: 0 }),
      actorLr: 0.05,
      reference,
      critic,
      criticOptimizer: new AdamW({ weightDecay: 0 }),
      criticLr: 0.05,
    };
    let metrics: Record<string, number> = {};
    for (let step = 0; step < 40; step++) {
      const samples: RlSample[] = Array.from({ length: 8 }, (_, k) => {
        const answer = sample(actor, 0, rng);
        return {
          promptId: `s${step}-${k}`,
          promptTokens: [0],
          responseTokens: [answer],
          sampledMask: [1],
          reward: answer === 3 ? 1 : 0,
        };
      });
      metrics = await rlUpdate(
        samples,
        models,
        { ...OPTIONS, advantage: 'gae', klMode: 'reward', klEstimator: 'k1' },
        rng,
      );
    }
    expect(actor.probability(0, 3)).toBeGreaterThan(0.6);
    expect(metrics['critic/vf_loss']).toBeDefined();
    expect(Number.isFinite(metrics['actor/pg_loss']!)).toBe(true);
  });

  it('gives inserted (masked) tokens no gradient when masking is on, and some when off', async () => {
    // Response: [inserted 1 (mask 0), policy 2 (mask 1)]: transition 0→1 is inserted, 1→2 generated.
    const samples: RlSample[] = [
      { promptId: 'a', promptTokens: [0], responseTokens: [1, 2], sampledMask: [0, 1], reward: 1 },
      { promptId: 'a', promptTokens: [0], responseTokens: [1, 3], sampledMask: [0, 1], reward: 0 },
    ];
    const rowOf = (policy: BigramPolicy, prev: number) =>
      Array.from(policy.parameters.get('bigram.weight')!.subarray(prev * 4, prev * 4 + 4));
    for (const maskRetrievedTokens of [true, false]) {
      const actor = new BigramPolicy(4, createRng(1));
      const before0 = rowOf(actor, 0);
      const before1 = rowOf(actor, 1);
      await rlUpdate(
        samples,
        { actor, actorOptimizer: new AdamW({ weightDecay: 0 }), actorLr: 0.1 },
        { ...OPTIONS, maskRetrievedTokens, klMode: 'none' },
        createRng(1),
      );
      expect(rowOf(actor, 1)).not.toEqual(before1);
      if (maskRetrievedTokens) expect(rowOf(actor, 0)).toEqual(before0);
    }
  });

  it('reuses the old-policy pass for the first mini-batch (one forward, one backward per step)', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    const samples: RlSample[] = [
      { promptId: 'a', promptTokens: [0], responseTokens: [1, 2], sampledMask: [1, 1], reward: 1 },
      { promptId: 'a', promptTokens: [0], responseTokens: [3], sampledMask: [1], reward: 0 },
    ];
    await rlUpdate(
      samples,
      { actor, actorOptimizer: new AdamW(), actorLr: 0.1 },
      { ...OPTIONS, microBatchSize: 8 },
      createRng(1),
    );
    expect(actor.calls.map((call) => call.kind)).toEqual(['forward', 'backward']);
    await rlUpdate(
      samples,
      { actor, actorOptimizer: new AdamW(), actorLr: 0.1 },
      { ...OPTIONS, microBatchSize: 8, miniBatchSize: 1 },
      createRng(1),
    );
    // Two mini-batches: the second needs a fresh forward pass after the first update.
    expect(actor.calls.slice(2).map((call) => call.kind)).toEqual([
      'forward',
      'backward',
      'forward',
      'backward',
    ]);
  });

  it('requires a critic for GAE', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    const update = () =>
      rlUpdate(
        [{ promptId: 'a', promptTokens: [0], responseTokens: [1], sampledMask: [1], reward: 1 }],
        { actor, actorOptimizer: new AdamW(), actorLr: 0.1 },
        { ...OPTIONS, advantage: 'gae' },
        createRng(1),
      );
    await expect(update()).rejects.toThrow('GAE advantages need a critic');
    await expect(update()).rejects.toThrow(InvalidInputError);
  });

  it('rejects an unknown advantage estimator, listing the registered ones', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    const update = rlUpdate(
      [{ promptId: 'a', promptTokens: [0], responseTokens: [1], sampledMask: [1], reward: 1 }],
      { actor, actorOptimizer: new AdamW(), actorLr: 0.1 },
      { ...OPTIONS, advantage: 'reinforce' as AdvantageEstimator },
      createRng(1),
    );
    await expect(update).rejects.toThrow(
      "unknown advantage estimator 'reinforce'. Supported: [gae, grpo, rloo]",
    );
  });
});

describe('bad input to the RL layout', () => {
  it('is a typed error naming the sample and field', () => {
    expect(() => buildRlBatch([])).toThrow(InvalidInputError);
    const short = () =>
      buildRlBatch([
        { promptId: 'a', promptTokens: [0], responseTokens: [1, 2], sampledMask: [1], reward: 0 },
      ]);
    expect(short).toThrow(InvalidInputError);
    expect(short).toThrow("field 'samples[0].sampledMask': sample 0: sampledMask has 1 entries for 2 tokens");
    expect(() => makeTokenBatch([[1, 2, 3]], 2)).toThrow("field 'sequences[0]'");
    expect(() => new NonFiniteStepGuard(0)).toThrow(InvalidInputError);
  });
});
