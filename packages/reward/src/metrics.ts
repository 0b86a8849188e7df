// Answer-level metrics against a list of gold answers: EM, substring EM and SQuAD token F1.

import { pythonSplit } from '@sr1/core';
import { requireGoldAnswers, requireString } from './errors.js';
import { normalizeAnswer } from './normalize.js';

/**
 * Exact match: 1 when the normalised prediction equals any normalised gold answer, else 0
 * (Search-R1 `em_check`).
 *
 * @param prediction - the extracted answer
 * @param goldAnswers - one or more acceptable answers (a bare string counts as one)
 * @throws RewardInputError on a non-string prediction or an empty/non-string gold list
 */
export function exactMatch(prediction: string, goldAnswers: readonly string[] | string): 0 | 1 {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const normalized = normalizeAnswer(requireString(prediction, 'prediction'));
  return golds.some((gold) => normalizeAnswer(gold) === normalized) ? 1 : 0;
}

/**
 * Substring exact match: 1 when some normalised gold answer occurs (as a substring, like
 * Python's `in`) inside the normalised prediction, else 0 (Search-R1 `subem_check`). A gold
 * answer that normalises to the empty string matches everything, as in the reference.
 */
export function substringExactMatch(prediction: string, goldAnswers: readonly string[] | string): 0 | 1 {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const normalized = normalizeAnswer(requireString(prediction, 'prediction'));
  return golds.some((gold) => normalized.includes(normalizeAnswer(gold))) ? 1 : 0;
}

/**
 * SQuAD v1.1 token F1 between the prediction and each gold answer, maximised over the golds.
 * Tokens are the whitespace pieces of the normalised texts; overlap counts multiplicity.
 */
export function f1Score(prediction: string, goldAnswers: readonly string[] | string): number {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const predictionTokens = pythonSplit(normalizeAnswer(requireString(prediction, 'prediction')));
  let best = 0;
  for (const gold of golds)
    best = Math.max(best, tokenF1(predictionTokens, pythonSplit(normalizeAnswer(gold))));
  return best;
}

function tokenF1(predictionTokens: readonly string[], goldTokens: readonly string[]): number {
  const goldCounts = new Map<string, number>();
  for (const token of goldTokens) goldCounts.set(token, (goldCounts.get(token) ?? 0) + 1);
  let same = 0;
  for (const token of predictionTokens) {
    const left = goldCounts.get(token) ?? 0;
    if (left > 0) {
      same++;
      goldCounts.set(token, left - 1);
    }
  }
  if (same === 0) return 0;
  const precision = same / predictionTokens.length;
  const recall = same / goldTokens.length;
  return (2 * precision * recall) / (precision + recall);
}
