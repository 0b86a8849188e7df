// SQuAD v1.1 answer normalisation, as Search-R1's qa_em.py applies it (Python 3 semantics).

import { pythonSplit } from '@sr1/core';
import { requireString } from './errors.js';
import { removeArticles, removeAsciiPunctuation } from './python-text.js';

/**
 * Normalises an answer exactly like the SQuAD v1.1 evaluation script under Python 3:
 * lowercase (`str.lower`) → remove ASCII punctuation (`string.punctuation`) → replace the words
 * a/an/the with a space (Unicode-aware `\b`) → collapse whitespace (`" ".join(s.split())`).
 *
 * @param text - the answer text
 * @returns the normalised text
 * @throws RewardInputError when `text` is not a string
 */
export function normalizeAnswer(text: string): string {
  requireString(text, 'text');
  return pythonSplit(removeArticles(removeAsciiPunctuation(text.toLowerCase()))).join(' ');
}
