import { pythonStrip } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { formatDocuments, INVALID_ACTION_MESSAGE, informationBlock, parseAction } from './protocol.js';

describe('parseAction', () => {
  it('takes the first complete search or answer, content stripped, across newlines', () => {
    expect(parseAction('<think>hm</think><search> moon landing\n</search>')).toEqual({
      type: 'search',
      query: 'moon landing',
    });
    expect(parseAction('<answer>\n December 1972 </answer> <search>x</search>')).toEqual({
      type: 'answer',
      answer: 'December 1972',
    });
    expect(parseAction('<search>a\nb</search><answer>c</answer>')).toEqual({ type: 'search', query: 'a\nb' });
  });

  it('needs matching tags; anything else is invalid', () => {
    expect(parseAction('<search>x</answer>')).toEqual({ type: 'invalid' });
    expect(parseAction('<search>never closed')).toEqual({ type: 'invalid' });
    expect(parseAction('')).toEqual({ type: 'invalid' });
    // a mismatched opener is skipped over to the next well-formed action, like Python's re.search
    expect(parseAction('<search>x</answer><answer>y</answer>')).toEqual({ type: 'answer', answer: 'y' });
  });
});

describe('documents and observations', () => {
  const hits = [
    { contents: '"Moon landing"\nTo date, the United States is the only country.' },
    { contents: '"Two lines"\nfirst\nsecond' },
  ];

  it('formats documents as the reference: Doc i(Title: first line) rest\\n', () => {
    expect(formatDocuments(hits)).toBe(
      'Doc 1(Title: "Moon landing") To date, the United States is the only country.\n' +
        'Doc 2(Title: "Two lines") first\nsecond\n',
    );
  });

  it('wraps the stripped documents in the information block', () => {
    expect(informationBlock(hits)).toBe(
      '\n\n<information>Doc 1(Title: "Moon landing") To date, the United States is the only country.\n' +
        'Doc 2(Title: "Two lines") first\nsecond</information>\n\n',
    );
    expect(informationBlock([])).toBe('\n\n<information></information>\n\n');
  });

  it('uses the reference invalid-action message verbatim', () => {
    expect(INVALID_ACTION_MESSAGE).toBe(
      '\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n',
    );
  });

  it('strips Python whitespace (including U+001F, not U+FEFF)', () => {
    expect(pythonStrip('\x1f\t x \n')).toBe('x');
    expect(pythonStrip('\ufeffx')).toBe('\ufeffx');
  });
});
