import { describe, expect, it } from 'vitest';
import { RewardInputError } from './errors.js';
import { exactMatch, f1Score, substringExactMatch } from './metrics.js';

describe('exactMatch', () => {
  it.each([
    ['The Beatles', ['Beatles'], 1],
    ['beatles.', ['the beatles'], 1],
    ['Beatles band', ['Beatles'], 0],
    ['December 1972', ['14 December 1972 UTC', 'December 1972'], 1],
    ['1972', ['December 1972'], 0],
    ['', ['the'], 1], // both normalise to ''
    ['Paris', 'paris', 1], // a bare string is one gold answer
  ] as const)('%j vs %j → %i', (prediction, gold, expected) => {
    expect(exactMatch(prediction, gold)).toBe(expected);
  });
});

describe('substringExactMatch', () => {
  it.each([
    ['the Beatles band', ['Beatles'], 1],
    ['in December 1972', ['December 1972'], 1],
    ['1972', ['December 1972'], 0],
    ['bobby scott', ['Bob Scott'], 0],
    ['catalogue', ['cat'], 1], // Python's `in` is a character substring test, not token-level
    ['anything', ['an'], 1], // a gold that normalises to '' is inside every string, as in Python
  ] as const)('%j vs %j → %i', (prediction, gold, expected) => {
    expect(substringExactMatch(prediction, gold)).toBe(expected);
  });
});

describe('f1Score', () => {
  // Values from SQuAD v1.1 f1_score under Python 3.
  it.each([
    ['the cat sat on the mat', ['a cat on a mat'], 0.8571428571428571],
    ['cat cat dog', ['cat dog dog'], 0.6666666666666666],
    ['Paris, France', ['paris'], 0.6666666666666666],
    ['Paris, France', ['London', 'paris'], 0.6666666666666666],
    ['London', ['paris'], 0],
    ['the', ['a'], 0], // both empty: num_same = 0
  ] as const)('%j vs %j → %f', (prediction, gold, expected) => {
    expect(f1Score(prediction, gold)).toBeCloseTo(expected, 12);
  });
});

describe('bad input', () => {
  it.each([
    [
      'an empty gold list',
      () => exactMatch('x', []),
      "field 'goldAnswers': the list of gold answers is empty",
    ],
    ['a non-string gold', () => f1Score('x', ['a', 3 as unknown as string]), "field 'goldAnswers[1]'"],
    ['gold of the wrong type', () => substringExactMatch('x', null as unknown as string[]), 'got null'],
    [
      'a non-string prediction',
      () => exactMatch(undefined as unknown as string, ['a']),
      "field 'prediction'",
    ],
  ])('%s → RewardInputError', (_what, call, message) => {
    expect(call).toThrow(RewardInputError);
    expect(call).toThrow(message);
  });
});
