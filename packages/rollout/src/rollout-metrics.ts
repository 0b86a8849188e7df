// Batch statistics of finished trajectories, namespaced like the RL metrics (`rollout/…`), for
// the trainer's and the benchmark's logs.

import type { RolloutFinishReason, Trajectory } from './rollout.js';

const FINISH_REASONS: readonly RolloutFinishReason[] = ['answer', 'max-turns', 'length'];

/**
 * Means over the batch: turns, searches (made and refused), invalid actions, response / generated / inserted token
 * counts; and the fraction of trajectories per finish reason and not token-exact. Empty batch: {}.
 */
export function rolloutMetrics(trajectories: readonly Trajectory[]): Record<string, number> {
  const n = trajectories.length;
  if (n === 0) return {};
  const mean = (value: (t: Trajectory) => number) => trajectories.reduce((sum, t) => sum + value(t), 0) / n;
  const generated = (t: Trajectory) => t.sampledMask.reduce((sum, m) => sum + m, 0);
  const metrics: Record<string, number> = {
    'rollout/turns_mean': mean((t) => t.turns),
    'rollout/searches_mean': mean((t) => t.searches.length),
    'rollout/searches_refused_mean': mean((t) => t.searchesRefused),
    'rollout/invalid_actions_mean': mean((t) => t.invalidActions),
    'rollout/response_tokens_mean': mean((t) => t.responseTokenIds.length),
    'rollout/generated_tokens_mean': mean(generated),
    'rollout/inserted_tokens_mean': mean((t) => t.responseTokenIds.length - generated(t)),
    'rollout/not_token_exact_fraction': mean((t) => (t.tokenExact ? 0 : 1)),
  };
  for (const reason of FINISH_REASONS) {
    metrics[`rollout/finish_${reason.replace('-', '_')}_fraction`] = mean((t) =>
      t.finishReason === reason ? 1 : 0,
    );
  }
  return metrics;
}
