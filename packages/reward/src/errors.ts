// Typed errors for bad scorer input: a wrong type or an empty gold list is a caller bug that must
// surface, never a silent 0 that looks like a wrong answer.

import { InvalidInputError } from '@sr1/core';

/** A prediction, response or gold answer that is not what the scorer needs. */
export class RewardInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'reward_input', field, reason });
  }
}

/** Checks that `value` is a string; `field` names it in the error. */
export function requireString(value: unknown, field: string): string {
  if (typeof value !== 'string')
    throw new RewardInputError(field, `expected a string, got ${describe(value)}`);
  return value;
}

/** Checks that `value` is a non-empty array of strings (a single string is accepted as one answer). */
export function requireGoldAnswers(value: unknown, field: string): readonly string[] {
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) {
    throw new RewardInputError(field, `expected a string or an array of strings, got ${describe(value)}`);
  }
  if (value.length === 0) throw new RewardInputError(field, 'the list of gold answers is empty');
  value.forEach((answer, index) => {
    if (typeof answer !== 'string') {
      throw new RewardInputError(`${field}[${index}]`, `expected a string, got ${describe(answer)}`);
    }
  });
  return value as string[];
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
