import { describe, expect, it } from 'vitest';
import { normalizeAnswer } from './normalize.js';

// Each expected value is what the SQuAD v1.1 `normalize_answer` returns under CPython 3.11
// (Python's Unicode-aware lower(), `\b` and split()), recorded by running that function.
const CASES: ReadonlyArray<readonly [input: string, expected: string, why: string]> = [
  ['The Beatles!', 'beatles', 'lowercase, punctuation, leading article'],
  ['  A  man, a plan, a canal: Panama ', 'man plan canal panama', 'articles and whitespace'],
  ['AN', '', 'an article alone normalises to empty'],
  ['la 2the a.m.', 'la 2the am', 'digits are word characters; "a.m." loses its dots first'],
  ['the_the a1 an', 'thethe a1', 'underscore is punctuation, removed before the article pass'],
  ['über-the-top', 'überthetop', 'hyphen removed first, so "the" is inside a word'],
  ['théatre the', 'théatre', 'an accented letter is a word character: "th" is not an article'],
  ['éthe end', 'éthe end', 'no boundary between é and t (JS \\b would see one)'],
  ['the\u0301 end', '\u0301 end', 'a combining mark is not a word character in Python'],
  ['an\u0085apple', 'apple', 'U+0085 is whitespace for Python, not for JS \\s'],
  ['x\u001cthe\u001cy', 'x y', 'U+001C is whitespace for Python'],
  ['a\u200bb', '\u200bb', 'U+200B is neither whitespace nor a word character'],
  ['\ufeffthe cat', '\ufeff cat', 'U+FEFF is whitespace for JS, not for Python'],
  ['the\u00a0end', 'end', 'no-break space is whitespace in both'],
  ['Ünder the ÀN', 'ünder àn', 'Unicode lowercase'],
  ['İstanbul', 'i\u0307stanbul', 'full case mapping: İ lowercases to two code points'],
  ['ΣΊΣΥΦΟΣ', 'σίσυφος', 'final sigma, as Python 3 lower()'],
  ['“quoted” — dash', '“quoted” — dash', 'only ASCII punctuation is removed'],
  ['ＴＨＥ cat', 'ｔｈｅ cat', 'fullwidth letters are not the ASCII article'],
];

describe('normalizeAnswer', () => {
  it.each(CASES)('%j → %j (%s)', (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });

  it('rejects a non-string with a typed error naming the field', () => {
    expect(() => normalizeAnswer(42 as unknown as string)).toThrow(
      "field 'text': expected a string, got number",
    );
  });
});
