import { describe, expect, it } from 'vitest';
import { exactMatchReward, formatReward, isRetrievalCorrect, validateFormat } from './format.js';

const VALID_SEARCH =
  '<think>I need to look this up.</think>\n<search> capital of France </search>\n\n' +
  '<information>Doc 1(Title: "Paris") Paris is the capital of France.\n</information>\n\n' +
  '<think>It is Paris.</think>\n<answer> Paris </answer>';
const VALID_DIRECT = '<think>I know this.</think><answer>Paris</answer>';

describe('validateFormat', () => {
  it.each([
    [VALID_SEARCH, true, 'Valid sequence format'],
    [VALID_DIRECT, true, 'Valid sequence format'],
    [`${VALID_DIRECT}\n  `, true, 'Valid sequence format'],
    ['<answer>Paris</answer>', false, 'Unexpected tag <answer> in state start'],
    [
      '<think>a</think><think>b</think><answer>c</answer>',
      false,
      'Unexpected tag <think> in state after_think',
    ],
    [
      '<think>a</think> stray <answer>c</answer>',
      false,
      "Unexpected content 'stray' between tags (state: after_think)",
    ],
    [`${VALID_DIRECT} trailing`, false, 'Unexpected content in state end'],
    [
      '<think>a</think><search>q</search><answer>c</answer>',
      false,
      'Unexpected tag <answer> in state after_search',
    ],
    ['<think>a</think><search>q</search>', false, 'Incomplete sequence, ended in state after_search'],
    ['<think>a</think><answer>c', false, 'Mismatch in answer tags: 1 opening vs 0 closing tags'],
    ['<think>a</think><answer>c</answer><answer>d</answer>', false, 'Unexpected tag <answer> in state end'],
  ] as const)('%j → %s', (response, valid, reason) => {
    expect(validateFormat(response)).toEqual({ valid, reason });
  });
});

describe('formatReward (reference scores)', () => {
  it.each([
    ['correct, valid', VALID_SEARCH, ['paris'], 1],
    ['correct, invalid', '<answer>Paris</answer>', ['paris'], 0.8],
    ['wrong, valid', VALID_DIRECT, ['London'], 0.2],
    ['wrong, invalid', '<answer>Rome</answer>', ['London'], 0.1],
    ['no answer, valid is impossible; no answer, invalid', '<think>hmm</think>', ['London'], 0],
  ] as const)('%s → %f', (_what, response, gold, expected) => {
    expect(formatReward(response, gold)).toBeCloseTo(expected, 12);
  });

  it('adds the retrieval score only when a gold answer is in a retrieved block', () => {
    const wrongButFound = VALID_SEARCH.replace('<answer> Paris </answer>', '<answer> Lyon </answer>');
    expect(formatReward(wrongButFound, ['Paris'], { retrievalScore: 0.1 })).toBeCloseTo(0.3, 12);
    expect(formatReward(wrongButFound, ['Marseille'], { retrievalScore: 0.1 })).toBeCloseTo(0.2, 12);
    expect(isRetrievalCorrect(wrongButFound, ['the Paris'])).toBe(true);
  });
});

describe('exactMatchReward', () => {
  it('is EM of the last answer and 0 without one', () => {
    expect(exactMatchReward(VALID_SEARCH, ['Paris'])).toBe(1);
    expect(exactMatchReward('<answer>Lyon</answer><answer>paris.</answer>', ['Paris'])).toBe(1);
    expect(exactMatchReward('Paris', ['Paris'])).toBe(0);
  });
});
