import { readFileSync } from 'node:fs';
import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { AdamW, isNormOrBias, sgdStep } from './adamw.js';
import type { TensorBuffers } from './types.js';

interface TorchFixture {
  initial: Record<string, number[]>;
  grads: Record<string, number[]>[];
  lrs: number[];
  adamw: Record<string, number[]>[];
  sgd: Record<string, number[]>;
}

const fixture = JSON.parse(
  readFileSync(new URL('./__fixtures__/adamw-torch.json', import.meta.url), 'utf8'),
) as TorchFixture;

const buffers = (record: Record<string, number[]>): TensorBuffers =>
  new Map(Object.entries(record).map(([name, values]) => [name, Float32Array.from(values)]));

function expectClose(actual: TensorBuffers, expected: Record<string, number[]>, relative: number): void {
  for (const [name, values] of Object.entries(expected)) {
    const got = actual.get(name)!;
    values.forEach((value, i) => {
      expect(Math.abs(got[i]! - value)).toBeLessThanOrEqual(relative * Math.max(1, Math.abs(value)));
    });
  }
}

describe('AdamW against torch.optim.AdamW (recorded)', () => {
  it('matches three steps with per-step learning rates and decay exclusions to 1e-6', () => {
    const params = buffers(fixture.initial);
    const optimizer = new AdamW({
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      noDecay: isNormOrBias,
    });
    fixture.grads.forEach((grads, step) => {
      optimizer.step(params, buffers(grads), fixture.lrs[step]);
      expectClose(params, fixture.adamw[step]!, 1e-6);
    });
    expect(optimizer.stepCount).toBe(3);
  });

  it('resumes exactly from a saved state', () => {
    const straight = buffers(fixture.initial);
    const first = new AdamW({ weightDecay: 0.1 });
    for (const grads of fixture.grads) first.step(straight, buffers(grads), 1e-2);

    const resumed = buffers(fixture.initial);
    const before = new AdamW({ weightDecay: 0.1 });
    before.step(resumed, buffers(fixture.grads[0]!), 1e-2);
    const after = new AdamW({ weightDecay: 0.1 });
    after.loadState(before.state());
    for (const grads of fixture.grads.slice(1)) after.step(resumed, buffers(grads), 1e-2);
    for (const [name, values] of straight) expect(Array.from(resumed.get(name)!)).toEqual(Array.from(values));
  });

  it('rejects a gradient of the wrong size', () => {
    const optimizer = new AdamW();
    expect(() =>
      optimizer.step(new Map([['w', new Float32Array(2)]]), new Map([['w', new Float32Array(3)]])),
    ).toThrow('w has 2 values but its gradient 3');
    expect(() =>
      optimizer.step(new Map([['w', new Float32Array(2)]]), new Map([['w', new Float32Array(3)]])),
    ).toThrow(InvalidInputError);
  });

  it('rejects a gradient for an unknown parameter with a typed error naming it', () => {
    const optimizer = new AdamW();
    const step = () => optimizer.step(new Map(), new Map([['w', new Float32Array(1)]]));
    expect(step).toThrow(InvalidInputError);
    expect(step).toThrow('gradient for unknown parameter w');
    expect(() => sgdStep(new Map(), new Map([['w', new Float32Array(1)]]), 0.1)).toThrow(InvalidInputError);
  });
});

describe('sgdStep', () => {
  it('matches torch SGD', () => {
    const params = buffers(fixture.initial);
    sgdStep(params, buffers(fixture.grads[0]!), 0.1);
    expectClose(params, fixture.sgd, 1e-6);
  });
});
