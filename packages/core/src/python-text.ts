// Python 3's whitespace, exactly: `str.isspace()`, `str.split()` and `str.strip()` with no
// arguments. The Search-R1 reference strips queries, answers and documents and splits answers
// with these, and JavaScript's `\s`/`trim()` disagree with them on a few code points.

/**
 * Code points for which Python 3's `str.isspace()` is true (bidi class WS, B or S, or category
 * Zs). Unlike JavaScript's `\s` this includes U+001C–U+001F and U+0085 and excludes U+FEFF.
 */
const PYTHON_WHITESPACE = new Set<number>([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002,
  0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

/** Python's `str.isspace()` for one UTF-16 code unit (all Python whitespace is in the BMP). */
export function isPythonWhitespace(codeUnit: number): boolean {
  return PYTHON_WHITESPACE.has(codeUnit);
}

/** Python's `str.split()` with no arguments: split on runs of whitespace, drop empty pieces. */
export function pythonSplit(text: string): string[] {
  const pieces: string[] = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    if (PYTHON_WHITESPACE.has(text.charCodeAt(i))) {
      if (start >= 0) {
        pieces.push(text.slice(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) pieces.push(text.slice(start));
  return pieces;
}

/** Python's `str.strip()` with no arguments. */
export function pythonStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && PYTHON_WHITESPACE.has(text.charCodeAt(start))) start++;
  while (end > start && PYTHON_WHITESPACE.has(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}
