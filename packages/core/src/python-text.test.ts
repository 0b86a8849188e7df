import { describe, expect, it } from 'vitest';
import { isPythonWhitespace, pythonSplit, pythonStrip } from './python-text.js';

describe('isPythonWhitespace', () => {
  it("agrees with Python's str.isspace() where JavaScript's \\s does not", () => {
    for (const code of [0x1c, 0x1d, 0x1e, 0x1f, 0x85]) {
      expect(isPythonWhitespace(code)).toBe(true);
      expect(/\s/.test(String.fromCharCode(code))).toBe(false);
    }
    expect(isPythonWhitespace(0xfeff)).toBe(false);
    expect(/\s/.test('\ufeff')).toBe(true);
    expect(isPythonWhitespace('x'.charCodeAt(0))).toBe(false);
  });
});

describe('pythonStrip', () => {
  it('strips Python whitespace from both ends, keeps U+FEFF and inner whitespace', () => {
    expect(pythonStrip('\x1f\t x \n')).toBe('x');
    expect(pythonStrip('\ufeffx')).toBe('\ufeffx');
    expect(pythonStrip('\u3000a b\u0085')).toBe('a b');
    expect(pythonStrip(' \n ')).toBe('');
  });
});

describe('pythonSplit', () => {
  it('splits on runs of Python whitespace and drops empty pieces', () => {
    expect(pythonSplit('  a\x1cb \u2003 c\n')).toEqual(['a', 'b', 'c']);
    expect(pythonSplit('a\ufeffb')).toEqual(['a\ufeffb']);
    expect(pythonSplit(' \t ')).toEqual([]);
  });
});
