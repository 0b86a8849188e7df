import { describe, expect, it } from 'vitest';
import { extractAnswer, extractInformationBlocks } from './extract.js';

describe('extractAnswer', () => {
  it.each([
    ['<think>x</think><answer> Beijing </answer>', 'Beijing'],
    ['<answer>first</answer> then <answer>\n last\n</answer>', 'last'],
    ['<answer>multi\nline</answer>', 'multi\nline'],
    ['no answer here', null],
    ['<answer>unclosed', null],
    ['<answer>a<answer>b</answer>', 'a<answer>b'], // non-greedy from the first opening tag, as re.finditer
    ['<answer></answer>', ''],
    ['<answer>\u0085x\u001c</answer>', 'x'], // Python strip() whitespace
    ['<answer>\ufeffx</answer>', '\ufeffx'], // U+FEFF is not Python whitespace
  ] as const)('%j → %j', (response, expected) => {
    expect(extractAnswer(response)).toBe(expected);
  });
});

describe('extractInformationBlocks', () => {
  it('returns every block, stripped, in order', () => {
    const response = '<information> Doc 1 </information><think>t</think><information>\nDoc 2\n</information>';
    expect(extractInformationBlocks(response)).toEqual(['Doc 1', 'Doc 2']);
  });
});
