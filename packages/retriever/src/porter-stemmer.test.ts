import { describe, expect, it } from 'vitest';
import { analyze, tokenize } from './analysis.js';
import { porterStem } from './porter-stemmer.js';

// Outputs of the full Porter algorithm (Porter 1980; the tartarus.org reference vocabulary).
const cases: [string, string][] = [
  ['caresses', 'caress'],
  ['ponies', 'poni'],
  ['ties', 'ti'],
  ['cats', 'cat'],
  ['feed', 'feed'],
  ['agreed', 'agre'],
  ['plastered', 'plaster'],
  ['motoring', 'motor'],
  ['sing', 'sing'],
  ['hopping', 'hop'],
  ['falling', 'fall'],
  ['filing', 'file'],
  ['happy', 'happi'],
  ['sky', 'sky'],
  ['running', 'run'],
  ['connection', 'connect'],
  ['connected', 'connect'],
  ['generalizations', 'gener'],
  ['happiness', 'happi'],
  ['relational', 'relat'],
  ['controlling', 'control'],
  ['adjustment', 'adjust'],
  ['yelling', 'yell'],
  ['abc', 'abc'],
  ['at', 'at'],
];

describe('porterStem', () => {
  it.each(cases)('%s -> %s', (word, stem) => {
    expect(porterStem(word)).toBe(stem);
  });
});

describe('analyze', () => {
  it('lower-cases, drops possessives and stop words, stems', () => {
    expect(tokenize("The Hollies' song, Bob's HIT")).toEqual(['the', 'hollies', 'song', 'bob', 'hit']);
    expect(analyze('The United States is the only country')).toEqual(['unit', 'state', 'onli', 'countri']);
  });
  it('keeps digits and non-Latin letters', () => {
    expect(analyze('In 1969, Zürich — 東京')).toEqual(['1969', 'zürich', '東京']);
  });
});
