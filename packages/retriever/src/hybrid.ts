// Hybrid retrieval by reciprocal-rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009):
// score(d) = Σ over ranked lists of 1 / (k + rank(d)), rank from 1. Needs no score calibration
// between BM25 and inner products, which live on unrelated scales.

import type { ScoredIndex } from './top-k.js';

export const RRF_DEFAULTS = {
  k: 60, // the paper's constant
  depth: 100, // candidates taken from each list; deeper lists change the top 10 very rarely
} as const;

/** Fuses ranked lists (best first) by reciprocal rank; ties by lower index. Returns the top `topk`. */
export function reciprocalRankFusion(
  lists: readonly (readonly ScoredIndex[])[],
  topk: number,
  k: number = RRF_DEFAULTS.k,
): ScoredIndex[] {
  const fused = new Map<number, number>();
  for (const list of lists) {
    list.forEach((hit, rank) => {
      fused.set(hit.index, (fused.get(hit.index) ?? 0) + 1 / (k + rank + 1));
    });
  }
  return [...fused.entries()]
    .map(([index, score]) => ({ index, score }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, topk);
}
