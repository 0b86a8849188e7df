import { describe, expect, it } from 'vitest';
import { SEARCH_R1_INSTRUCTION } from './index.js';

describe('SEARCH_R1_INSTRUCTION', () => {
  it('is the reference make_prefix text up to its "Question: ", typo included', () => {
    expect(
      SEARCH_R1_INSTRUCTION.startsWith(
        'Answer the given question. You must conduct reasoning inside <think>',
      ),
    ).toBe(true);
    expect(SEARCH_R1_INSTRUCTION).toContain('You can search as many times as your want. ');
    expect(SEARCH_R1_INSTRUCTION).toContain(
      '<search> query </search> and it will return the top searched results',
    );
    expect(SEARCH_R1_INSTRUCTION.endsWith('For example, <answer> Beijing </answer>. ')).toBe(true);
    expect(SEARCH_R1_INSTRUCTION).not.toContain('Question:');
    expect(SEARCH_R1_INSTRUCTION.length).toBe(554);
  });
});
