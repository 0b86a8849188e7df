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

  it("divides GRPO's advantages by the group std unless grpoNormalizeByStd is false", () => {
    expect(parseRlConfig(MINIMAL).grpoNormalizeByStd).toBe(true);
    expect(parseRlConfig({ ...MINIMAL, grpoNormalizeByStd: false }).grpoNormalizeByStd).toBe(false);
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

  it('generates and trains in workers by default; reads the rollout engine, the worker option and its threads', () => {
    expect(parseRlConfig(MINIMAL).engine).toEqual({
      device: 'cpu',
      threads: 0,
      rollout: 'async-worker',
      workerThreads: 0,
      worker: true,
      precision: 'float32',
    });
    expect(
      parseRlConfig({ ...MINIMAL, engine: { rollout: 'lockstep', threads: 1, workerThreads: 2 } }).engine,
    ).toMatchObject({ rollout: 'lockstep', threads: 1, workerThreads: 2 });
  });

  it("has the paper's tool protocol by default; reads toolFormat, tools and maxSearches", () => {
    expect(parseRlConfig(MINIMAL).rollout).toMatchObject({
      toolFormat: 'tags',
      tools: ['search'],
      maxSearches: null,
    });
    expect(
      parseRlConfig({
        ...MINIMAL,
        rollout: { toolFormat: 'hermes', tools: ['search', 'open'], maxSearches: 2 },
      }).rollout,
    ).toMatchObject({ toolFormat: 'hermes', tools: ['search', 'open'], maxSearches: 2 });
    expect(parseRlConfig({ ...MINIMAL, rollout: { maxSearches: 0 } }).rollout.maxSearches).toBe(0);
    expect(parseRlConfig({ ...MINIMAL, rollout: { maxSearches: null } }).rollout.maxSearches).toBeNull();
  });

  it.each([
    [{ ...MINIMAL, rollout: { toolFormat: 'json' } }, 'rollout.toolFormat'],
    [{ ...MINIMAL, rollout: { maxSearches: -1 } }, 'rollout.maxSearches'],
    [{ ...MINIMAL, rollout: { maxSearches: 1.5 } }, 'rollout.maxSearches'],
    [{ ...MINIMAL, rollout: { maxSearches: '2' } }, 'rollout.maxSearches'],
    [{ ...MINIMAL, rollout: { tools: 'search' } }, 'rollout.tools'],
    [{ ...MINIMAL, rollout: { tools: ['open'] } }, 'rollout.tools'],
    [{ ...MINIMAL, rollout: { tools: ['search', 'browse'] } }, 'rollout.tools'],
    [{ ...MINIMAL, rollout: { tools: ['search', 'search'] } }, 'rollout.tools'],
    [
      { ...MINIMAL, rollout: { tools: ['search', 'open'] } },
      "the 'open' tool needs rollout.toolFormat 'hermes'",
    ],
    [{ ...MINIMAL, engine: { rollout: 'threads' } }, 'engine.rollout'],
    [{ ...MINIMAL, engine: { workerThreads: -1 } }, 'engine.workerThreads'],
    [{ ...MINIMAL, engine: { worker: 'yes' } }, 'engine.worker'],
    [{ ...MINIMAL, engine: { precision: 'fp16' } }, 'engine.precision'],
    [{ ...MINIMAL, engine: { precision: 'bfloat16' } }, 'engine.precision'],
    [{ ...MINIMAL, searchCost: { kind: 'flat', c: 1 } }, 'searchCost.kind'],
    [{ ...MINIMAL, searchCost: { kind: 'additive' } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'additive', c: -1 } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'otc', c: 0 } }, 'searchCost.c'],
    [{ ...MINIMAL, searchCost: { kind: 'additive', c: 1, alpha: 2 } }, 'searchCost.alpha'],
    [{ ...MINIMAL, searchCache: -1 }, 'searchCache'],
    [{ ...MINIMAL, klMode: 'advantage' }, 'klMode'],
    [{ ...MINIMAL, klEstimator: 'k9' }, 'klEstimator'],
    [{ ...MINIMAL, grpoNormalizeByStd: 'no' }, 'grpoNormalizeByStd'],
    [{ ...MINIMAL, preset: 'ppo', grpoNormalizeByStd: false }, 'applies to GRPO only'],
    [{ ...MINIMAL, rolloutsPerPrompt: 1 }, 'GRPO needs at least 2 rollouts per prompt'],
    [{ ...MINIMAL, steps: 0 }, 'steps'],
    [{ ...MINIMAL, klCoeff: 0.1 }, 'klCoeff'],
  ])('rejects %j naming the field', (json, message) => {
    expect(() => parseRlConfig(json, '/configs/rl.json')).toThrow(message);
    expect(() => parseRlConfig(json, '/configs/rl.json')).toThrow('/configs/rl.json');
  });
});
