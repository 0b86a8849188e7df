import { describe, expect, it } from 'vitest';
import { parseRlConfig } from './rl-config.js';

const MINIMAL = {
  policy: 'base',
  index: 'index',
  data: { train: 'train.jsonl', validation: 'validation.jsonl' },
  steps: 10,
  output: { dir: 'run' },
};

describe('RL config', () => {
  it('takes the paper settings of the preset: GRPO with a k3 KL loss, PPO with a k1 KL reward', () => {
    const grpo = parseRlConfig(MINIMAL);
    expect(grpo).toMatchObject({
      algorithm: 'grpo',
      rolloutsPerPrompt: 5,
      klMode: 'loss',
      klEstimator: 'k3',
    });
    expect(grpo.maskRetrievedTokens).toBe(true);
    const ppo = parseRlConfig({ ...MINIMAL, preset: 'ppo' });
    expect(ppo).toMatchObject({
      algorithm: 'ppo',
      rolloutsPerPrompt: 1,
      klMode: 'reward',
      klEstimator: 'k1',
    });
  });

  it('lets explicit fields override the preset', () => {
    const config = parseRlConfig({
      ...MINIMAL,
      preset: 'ppo',
      klMode: 'loss',
      klEstimator: 'low_var_kl',
      maskRetrievedTokens: false,
    });
    expect(config).toMatchObject({ klMode: 'loss', klEstimator: 'low_var_kl', maskRetrievedTokens: false });
  });

  it('has no search cost and a 4096-entry query cache by default; reads additive and OTC costs', () => {
    expect(parseRlConfig(MINIMAL)).toMatchObject({ searchCost: { kind: 'none' }, searchCache: 4096 });
    expect(
      parseRlConfig({ ...MINIMAL, searchCost: { kind: 'additive', c: 0.1 }, searchCache: 0 }),
    ).toMatchObject({ searchCost: { kind: 'additive', c: 0.1 }, searchCache: 0 });
    expect(parseRlConfig({ ...MINIMAL, searchCost: { kind: 'otc', c: 3, alpha: 1 } }).searchCost).toEqual({
      kind: 'otc',
      c: 3,
      alpha: 1,
    });
  });

  it.each([
    [{ ...MINIMAL, searchCost: { kind: 'flat', c: 1 } }, 'searchCost.kind'],
    [{ ...MINIMAL, searchCost: { kind: 'additive' } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'additive', c: -1 } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'otc', c: 0 } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'additive', c: 1, alpha: 2 } }, 'searchCost.alpha'],
    [{ ...MINIMAL, searchCache: -1 }, 'searchCache'],
    [{ ...MINIMAL, klMode: 'advantage' }, 'klMode'],
    [{ ...MINIMAL, klEstimator: 'k9' }, 'klEstimator'],
    [{ ...MINIMAL, rolloutsPerPrompt: 1 }, 'GRPO needs at least 2 rollouts per prompt'],
    [{ ...MINIMAL, steps: 0 }, 'steps'],
    [{ ...MINIMAL, klCoeff: 0.1 }, 'klCoeff'],
  ])('rejects %j naming the field', (json, message) => {
    expect(() => parseRlConfig(json, '/configs/rl.json')).toThrow(message);
    expect(() => parseRlConfig(json, '/configs/rl.json')).toThrow('/configs/rl.json');
  });
});
