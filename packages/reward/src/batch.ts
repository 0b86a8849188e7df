// Scoring many responses at once: what the trainer calls per step and the bench per dataset.

import { InvalidInputError } from '@sr1/core';
import { requireGoldAnswers, requireString } from './errors.js';
import { extractAnswer } from './extract.js';
import { type FormatRewardOptions, formatReward, validateFormat } from './format.js';
import { exactMatch, f1Score, substringExactMatch } from './metrics.js';

/** One response to score against its gold answers. */
export interface ScoreItem {
  /** The generated response (with inserted `<information>` blocks), not the prompt. */
  response: string;
  /** Acceptable answers; at least one. */
  goldAnswers: readonly string[];
}

/** Every score of one response. Metrics of a response without an answer are 0. */
export interface ItemScore {
  /** The extracted answer, or null when the response has no complete `<answer>`. */
  answer: string | null;
  exactMatch: 0 | 1;
  substringExactMatch: 0 | 1;
  f1: number;
  formatValid: boolean;
  formatReason: string;
  formatReward: number;
}

/** Means over the batch (each in [0, 1]) and the count they average. */
export interface BatchAggregate {
  count: number;
  exactMatch: number;
  substringExactMatch: number;
  f1: number;
  formatValid: number;
  formatReward: number;
  /** Fraction of responses with a complete `<answer>`. */
  answered: number;
}

export interface BatchScore {
  items: ItemScore[];
  aggregate: BatchAggregate;
}

/** Scores one response: answer extraction, EM, subEM, F1, format check and format reward. */
export function scoreResponse(
  response: string,
  goldAnswers: readonly string[],
  options: FormatRewardOptions = {},
): ItemScore {
  requireString(response, 'response');
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const answer = extractAnswer(response);
  const format = validateFormat(response);
  return {
    answer,
    exactMatch: answer === null ? 0 : exactMatch(answer, golds),
    substringExactMatch: answer === null ? 0 : substringExactMatch(answer, golds),
    f1: answer === null ? 0 : f1Score(answer, golds),
    formatValid: format.valid,
    formatReason: format.reason,
    formatReward: formatReward(response, golds, options),
  };
}

/**
 * Scores a batch of responses. Bad items throw an `InvalidInputError` whose field names the item
 * (`items[3].goldAnswers`); an empty batch has aggregates of 0 over count 0.
 */
export function scoreBatch(items: readonly ScoreItem[], options: FormatRewardOptions = {}): BatchScore {
  if (!Array.isArray(items)) {
    throw new InvalidInputError({
      code: 'reward_input',
      field: 'items',
      reason: 'expected an array of items',
    });
  }
  const scores = items.map((item, index) => {
    if (item === null || typeof item !== 'object') {
      throw new InvalidInputError({
        code: 'reward_input',
        field: `items[${index}]`,
        reason: 'expected an object',
      });
    }
    try {
      return scoreResponse(item.response, item.goldAnswers, options);
    } catch (error) {
      if (error instanceof InvalidInputError && error.field !== undefined) {
        throw new InvalidInputError(
          { code: error.code, field: `items[${index}].${error.field}`, reason: error.reason },
          { cause: error },
        );
      }
      throw error;
    }
  });
  const mean = (pick: (score: ItemScore) => number): number =>
    scores.length === 0 ? 0 : scores.reduce((sum, score) => sum + pick(score), 0) / scores.length;
  return {
    items: scores,
    aggregate: {
      count: scores.length,
      exactMatch: mean((s) => s.exactMatch),
      substringExactMatch: mean((s) => s.substringExactMatch),
      f1: mean((s) => s.f1),
      formatValid: mean((s) => (s.formatValid ? 1 : 0)),
      formatReward: mean((s) => s.formatReward),
      answered: mean((s) => (s.answer === null ? 0 : 1)),
    },
  };
}
