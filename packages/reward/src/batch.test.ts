import { describe, expect, it } from 'vitest';
import { scoreBatch, scoreResponse } from './batch.js';

describe('scoreBatch', () => {
  it('scores every item and averages the metrics', () => {
    const result = scoreBatch([
      { response: '<think>t</think><answer>The Beatles</answer>', goldAnswers: ['Beatles'] },
      { response: '<answer>Paris, France</answer>', goldAnswers: ['Paris'] },
      { response: 'I do not know', goldAnswers: ['x'] },
    ]);
    expect(result.items.map((item) => item.exactMatch)).toEqual([1, 0, 0]);
    expect(result.items.map((item) => item.substringExactMatch)).toEqual([1, 1, 0]);
    expect(result.items[1]?.f1).toBeCloseTo(2 / 3, 12);
    expect(result.items.map((item) => item.formatReward)).toEqual([1, 0.1, 0]);
    expect(result.aggregate).toEqual({
      count: 3,
      exactMatch: 1 / 3,
      substringExactMatch: 2 / 3,
      f1: (1 + 2 / 3 + 0) / 3,
      formatValid: 1 / 3,
      formatReward: 1.1 / 3,
      answered: 2 / 3,
    });
  });

  it('gives zero aggregates over an empty batch', () => {
    expect(scoreBatch([]).aggregate.count).toBe(0);
    expect(scoreBatch([]).aggregate.exactMatch).toBe(0);
  });

  it('names the bad item in the error', () => {
    expect(() =>
      scoreBatch([
        { response: 'x', goldAnswers: ['a'] },
        { response: 'y', goldAnswers: [] },
      ]),
    ).toThrow("field 'items[1].goldAnswers': the list of gold answers is empty");
    expect(() => scoreBatch([{ response: 5 as unknown as string, goldAnswers: ['a'] }])).toThrow(
      "field 'items[0].response'",
    );
  });

  it('scores a single response with its format reason', () => {
    const score = scoreResponse('<think>a</think> junk <answer>b</answer>', ['b']);
    expect(score).toMatchObject({ answer: 'b', exactMatch: 1, formatValid: false, formatReward: 0.8 });
    expect(score.formatReason).toContain("Unexpected content 'junk'");
  });
});
