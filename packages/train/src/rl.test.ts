import { createRng, InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { type RlCallbacks, type RlOptions, type RlState, type RlStepMetrics, trainRl } from './rl.js';
import type { RlSample } from './rl-batch.js';
import { epochOrder } from './sft.js';
import { BigramPolicy } from './testing/index.js';

const OPTIONS: RlOptions = {
  steps: 6,
  promptsPerStep: 2,
  actorLr: 0.05,
  warmupRatio: 0,
  criticLr: 0.05,
  criticWarmupRatio: 0,
  optimizer: { weightDecay: 0 },
  update: {
    advantage: 'grpo',
    maskRetrievedTokens: true,
    ppoEpochs: 1,
    miniBatchSize: 8,
    microBatchSize: 4,
    clipRatio: 0.2,
    entropyCoef: 0,
    klMode: 'none',
    klCoef: 0,
    klEstimator: 'k3',
    gamma: 1,
    lambda: 1,
    valueClip: 0.5,
    grpoNormalizeByStd: true,
    aggregation: 'token-mean',
    maxGradNorm: 1,
  },
  seed: 3,
};

/** Four rollouts per prompt token, sampled from the policy with a per-step seed; token 2 is right. */
function collector(policy: BigramPolicy, drawn: number[][]): RlCallbacks<number>['collect'] {
  return async (prompts, step) => {
    drawn.push([...prompts]);
    const rng = createRng(1000 + step);
    const samples: RlSample[] = [];
    prompts.forEach((prompt, slot) => {
      for (let k = 0; k < 4; k++) {
        let u = rng.next();
        let answer = policy.vocabSize - 1;
        for (let token = 0; token < policy.vocabSize; token++) {
          u -= policy.probability(prompt, token);
          if (u <= 0) {
            answer = token;
            break;
          }
        }
        samples.push({
          promptId: `${prompt}@${step}.${slot}`,
          promptTokens: [prompt],
          responseTokens: [answer],
          sampledMask: [1],
          reward: answer === 2 ? 1 : 0,
        });
      }
    });
    return { samples, metrics: { 'rollout/samples': samples.length } };
  };
}

/** A step's metrics without its wall-clock timings. */
const untimed = ({ 'timing/update_s': _u, 'timing/step_s': _s, ...rest }: RlStepMetrics) => rest;

describe('trainRl', () => {
  it('raises the probability of the rewarded answer (seed 3)', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    const before = [actor.probability(0, 2), actor.probability(1, 2)];
    await trainRl({ actor }, [0, 1], { ...OPTIONS, steps: 40 }, undefined, {
      collect: collector(actor, []),
    });
    expect(Math.max(...before)).toBeLessThan(0.4);
    expect(actor.probability(0, 2)).toBeGreaterThan(0.8);
    expect(actor.probability(1, 2)).toBeGreaterThan(0.8);
  });

  it('draws prompts in the epoch order, validates and saves on schedule, and reports step metrics', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    const drawn: number[][] = [];
    const events: string[] = [];
    const steps: RlStepMetrics[] = [];
    const final = await trainRl({ actor }, [0, 1, 2], OPTIONS, undefined, {
      collect: collector(actor, drawn),
      onStep: (metrics) => {
        steps.push(metrics);
        events.push(`step ${metrics.step}`);
      },
      validate: (step) => {
        events.push(`validate ${step}`);
      },
      validateEvery: 4,
      onCheckpoint: (state) => {
        events.push(`save ${state.step}`);
      },
      saveEvery: 3,
    });
    const order = [0, 1, 2, 3].flatMap((epoch) => epochOrder(3, OPTIONS.seed, epoch));
    expect(drawn.flat()).toEqual(order.slice(0, 12));
    expect(events).toEqual([
      'validate 0',
      'step 1',
      'step 2',
      'step 3',
      'save 3',
      'step 4',
      'validate 4',
      'step 5',
      'step 6',
      'validate 6',
      'save 6',
    ]);
    expect(steps.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(steps[0]!['rollout/samples']).toBe(8);
    expect(steps[0]!['reward/mean']).toBeGreaterThanOrEqual(0);
    expect(steps[0]!['actor/pg_loss']).toBeTypeOf('number');
    expect(final).toMatchObject({ step: 6, epoch: 3, cursor: 3 });
    expect(final.actorOptimizer?.step).toBe(6);
    expect(final.criticOptimizer).toBeNull();
  });

  it('resumes exactly: the same following metrics and weights as an uninterrupted run', async () => {
    const straightActor = new BigramPolicy(4, createRng(1));
    const straight: RlStepMetrics[] = [];
    await trainRl({ actor: straightActor }, [0, 1, 2], OPTIONS, undefined, {
      collect: collector(straightActor, []),
      onStep: (metrics) => {
        straight.push(metrics);
      },
    });

    const firstActor = new BigramPolicy(4, createRng(1));
    let saved: RlState | undefined;
    await trainRl({ actor: firstActor }, [0, 1, 2], { ...OPTIONS, steps: 3 }, undefined, {
      collect: collector(firstActor, []),
      onCheckpoint: (state) => {
        saved = structuredClone(state);
      },
    });
    const resumedActor = new BigramPolicy(4, createRng(99));
    for (const [name, values] of firstActor.parameters) resumedActor.parameters.get(name)!.set(values);
    const resumed: RlStepMetrics[] = [];
    const validated: number[] = [];
    await trainRl({ actor: resumedActor }, [0, 1, 2], OPTIONS, saved, {
      collect: collector(resumedActor, []),
      onStep: (metrics) => {
        resumed.push(metrics);
      },
      validate: (step) => {
        validated.push(step);
      },
      validateEvery: 100,
    });
    expect(validated).toEqual([6]); // no step-0 validation on resume
    expect(resumed.map(untimed)).toEqual(straight.slice(3).map(untimed));
    expect(Array.from(resumedActor.parameters.get('bigram.weight')!)).toEqual(
      Array.from(straightActor.parameters.get('bigram.weight')!),
    );
  });

  it('rejects an empty prompt list with a typed error', async () => {
    const actor = new BigramPolicy(4, createRng(1));
    await expect(
      trainRl({ actor }, [], OPTIONS, undefined, { collect: collector(actor, []) }),
    ).rejects.toThrow(InvalidInputError);
  });
});
