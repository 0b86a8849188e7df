// Python 3 string semantics that the SQuAD/Search-R1 normaliser relies on and JavaScript lacks:
// the Unicode `\w` behind `re`'s `\b` and `string.punctuation`. Python's whitespace rules
// (`str.split()`, `str.strip()`) live in @sr1/core.

/**
 * `re.sub(r"\b(a|an|the)\b", " ", text)` under Python 3, where `\w` is Unicode-aware: letters
 * (L*), numbers (N*) and `_`. Combining marks are not word characters in Python, so `the\u0301`
 * still loses its article. JavaScript's `\b` is ASCII-only, hence the explicit lookarounds.
 */
const ARTICLE = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

export function removeArticles(text: string): string {
  return text.replace(ARTICLE, ' ');
}

/** Python's `string.punctuation`: the 32 ASCII punctuation characters, nothing else. */
const ASCII_PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;

export function removeAsciiPunctuation(text: string): string {
  return text.replace(ASCII_PUNCTUATION, '');
}
