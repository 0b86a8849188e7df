import { describe, expect, it } from 'vitest';
import type { Trajectory } from './rollout.js';
import { rolloutMetrics } from './rollout-metrics.js';

function trajectory(overrides: Partial<Trajectory>): Trajectory {
  return {
    id: 'x',
    promptTokenIds: [1],
    responseTokenIds: [],
    sampledMask: new Uint8Array(),
    logProbs: new Float64Array(),
    text: '',
    searches: [],
    searchesRefused: 0,
    opens: [],
    sources: [],
    turns: 1,
    invalidActions: 0,
    answer: null,
    finishReason: 'answer',
    tokenExact: true,
    ...overrides,
  };
}

describe('rolloutMetrics', () => {
  it('averages counts and reports finish-reason fractions', () => {
    const metrics = rolloutMetrics([
      trajectory({
        responseTokenIds: [1, 2, 3, 4],
        sampledMask: Uint8Array.from([1, 0, 0, 1]),
        turns: 2,
        searches: [{ turn: 0, query: 'q', documents: [] }],
        searchesRefused: 2,
      }),
      trajectory({
        responseTokenIds: [5, 6],
        sampledMask: Uint8Array.from([1, 1]),
        finishReason: 'max-turns',
        invalidActions: 3,
        tokenExact: false,
      }),
    ]);
    expect(metrics).toEqual({
      'rollout/turns_mean': 1.5,
      'rollout/searches_mean': 0.5,
      'rollout/searches_refused_mean': 1,
      'rollout/invalid_actions_mean': 1.5,
      'rollout/response_tokens_mean': 3,
      'rollout/generated_tokens_mean': 2,
      'rollout/inserted_tokens_mean': 1,
      'rollout/not_token_exact_fraction': 0.5,
      'rollout/finish_answer_fraction': 0.5,
      'rollout/finish_max_turns_fraction': 0.5,
      'rollout/finish_length_fraction': 0,
    });
    expect(rolloutMetrics([])).toEqual({});
  });
});
