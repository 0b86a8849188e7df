import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { NonFiniteStepsError } from './non-finite.js';
import { epochOrder, type SftOptions, type SftState, type SftStepMetrics, trainSft } from './sft.js';
import type { TokenizedExample } from './sft-data.js';
import { BigramPolicy } from './testing/index.js';

const OPTIONS: SftOptions = {
  steps: 60,
  batchSize: 4,
  microBatchSize: 2,
  lr: 0.1,
  schedule: 'constant',
  warmupRatio: 0,
  maxGradNorm: 10,
  optimizer: { weightDecay: 0 },
  seed: 3,
};

/** Deterministic sequences: a cycle the bigram model can learn exactly, loss only after the prompt. */
function examples(): TokenizedExample[] {
  return Array.from({ length: 6 }, (_, i) => {
    const tokens = Array.from({ length: 8 }, (_, t) => (i + t) % 5);
    return { tokens, lossMask: tokens.map((_, t) => (t >= 2 ? 1 : 0)), truncated: 0 };
  });
}

describe('trainSft', () => {
  it('overfits a tiny deterministic set to near-zero loss (seed 3)', async () => {
    const policy = new BigramPolicy(5, createRng(1));
    const losses: number[] = [];
    await trainSft(policy, examples(), OPTIONS, undefined, { onStep: (m) => void losses.push(m.loss) });
    expect(losses[0]).toBeGreaterThan(1);
    expect(losses.at(-1)).toBeLessThan(0.05);
  });

  it('resumes exactly: the same following losses as an uninterrupted run', async () => {
    const straight: SftStepMetrics[] = [];
    await trainSft(new BigramPolicy(5, createRng(1)), examples(), { ...OPTIONS, steps: 12 }, undefined, {
      onStep: (m) => void straight.push(m),
    });

    const policy = new BigramPolicy(5, createRng(1));
    let saved: SftState | undefined;
    let savedParameters: Map<string, Float32Array> | undefined;
    await trainSft(policy, examples(), { ...OPTIONS, steps: 12 }, undefined, {
      saveEvery: 5,
      onCheckpoint: (state) => {
        if (state.step === 5) {
          // A checkpoint copies what it saves.
          saved = structuredClone(state);
          savedParameters = new Map([...policy.parameters].map(([k, v]) => [k, v.slice()]));
        }
      },
    });
    const resumedPolicy = new BigramPolicy(5, createRng(99));
    for (const [name, values] of savedParameters!) resumedPolicy.parameters.get(name)!.set(values);
    const resumed: SftStepMetrics[] = [];
    await trainSft(resumedPolicy, examples(), { ...OPTIONS, steps: 12 }, saved, {
      onStep: (m) => void resumed.push(m),
    });
    expect(resumed.map((m) => m.step)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    expect(resumed.map((m) => m.loss)).toEqual(straight.slice(5).map((m) => m.loss));
  });

  it('skips a step whose loss is not finite and keeps training', async () => {
    const policy = new BigramPolicy(5, createRng(1));
    const bad = examples();
    const table = policy.parameters.get('bigram.weight')!;
    const metrics: SftStepMetrics[] = [];
    let poisoned = false;
    const original = policy.forward.bind(policy);
    policy.forward = async (batch) => {
      const out = await original(batch);
      if (!poisoned) {
        poisoned = true;
        out.logprobs[2] = Number.NaN; // an overflow in the first micro-batch
      }
      return out;
    };
    const before = table.slice();
    await trainSft(policy, bad, { ...OPTIONS, steps: 3 }, undefined, { onStep: (m) => void metrics.push(m) });
    expect(metrics[0]!.skipped).toBe(true);
    expect(metrics[1]!.skipped).toBe(false);
    expect(Array.from(table)).not.toEqual(Array.from(before));
  });

  it('stops with a typed error after maxNonFiniteSteps non-finite steps in a row (lr 1e300)', async () => {
    const metrics: SftStepMetrics[] = [];
    const error = await trainSft(
      new BigramPolicy(5, createRng(1)),
      examples(),
      { ...OPTIONS, steps: 20, lr: 1e300, maxNonFiniteSteps: 3 },
      undefined,
      { onStep: (m) => void metrics.push(m) },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NonFiniteStepsError);
    expect((error as NonFiniteStepsError).code).toBe('non_finite_steps');
    // Step 1 is finite and applies the absurd update; steps 2–4 are not finite: the run stops there.
    expect(metrics.map((m) => m.skipped)).toEqual([false, true, true, true]);
    expect((error as NonFiniteStepsError).step).toBe(4);
    expect((error as Error).message).toContain('3 steps in a row');
  });

  it('shuffles each epoch differently but reproducibly', () => {
    expect(epochOrder(10, 1, 0)).toEqual(epochOrder(10, 1, 0));
    expect(epochOrder(10, 1, 0)).not.toEqual(epochOrder(10, 1, 1));
    expect([...epochOrder(10, 1, 2)].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
  });
});
