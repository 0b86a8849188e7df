// English analysis for BM25, modelled on pyserini's default analyzer (Lucene StandardTokenizer →
// possessive filter → lower case → Lucene's English stop words → Porter stemmer). Tokens are runs
// of Unicode letters and digits; accents are kept, as Lucene's default analyzer keeps them.

import { porterStem } from './porter-stemmer.js';

/** Lucene's `EnglishAnalyzer.ENGLISH_STOP_WORDS_SET` (33 words), the set Anserini removes by default. */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'but',
  'by',
  'for',
  'if',
  'in',
  'into',
  'is',
  'it',
  'no',
  'not',
  'of',
  'on',
  'or',
  'such',
  'that',
  'the',
  'their',
  'then',
  'there',
  'these',
  'they',
  'this',
  'to',
  'was',
  'will',
  'with',
]);

const wordPattern = /[\p{L}\p{N}\p{M}]+(?:['’][\p{L}\p{N}\p{M}]+)*/gu;

/** Splits text into lower-case word tokens, dropping a trailing possessive `'s` (no stemming). */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  for (const match of text.toLowerCase().matchAll(wordPattern)) {
    let token = match[0];
    if (token.endsWith("'s") || token.endsWith('’s')) token = token.slice(0, -2);
    if (token.includes("'") || token.includes('’')) token = token.replace(/['’]/g, '');
    if (token.length > 0) tokens.push(token);
  }
  return tokens;
}

const stemCache = new Map<string, string>();

/** Porter stem with a bounded memo (the same words recur constantly across a corpus). */
function stemCached(token: string): string {
  let stem = stemCache.get(token);
  if (stem === undefined) {
    stem = porterStem(token);
    if (stemCache.size > 200_000) stemCache.clear();
    stemCache.set(token, stem);
  }
  return stem;
}

/** Full BM25 analysis: tokenize, remove English stop words, Porter-stem. */
export function analyze(text: string): string[] {
  const terms: string[] = [];
  for (const token of tokenize(text)) {
    if (ENGLISH_STOP_WORDS.has(token)) continue;
    terms.push(stemCached(token));
  }
  return terms;
}
