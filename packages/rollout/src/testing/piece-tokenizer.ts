// A small but real tokenizer for tests: greedy longest match over a list of multi-character
// pieces, falling back to UTF-8 bytes. Its pieces merge across the `</search>` / `\n\n`
// boundary, so re-tokenising concatenated text differs from concatenating tokenisations — the
// situation a real BPE tokenizer creates and the rollout must handle.

import type { Tokenizer } from '../types.js';

/** The end-of-sequence token's text. */
export const EOS_TEXT = '<|endoftext|>';

/** Pieces of the default vocabulary: protocol tags, a merge across the action boundary, common words. */
export const DEFAULT_PIECES: readonly string[] = [
  '<think>',
  '</think>',
  '<search>',
  '</search>',
  '</search>\n\n',
  '<answer>',
  '</answer>',
  '<information>',
  '</information>',
  '\n\n',
  'Doc ',
  '(Title: ',
  ' the',
  'the ',
  ' of',
  'ing',
  'er',
];

/** Greedy longest-match tokenizer: ids 0–255 are bytes, 256 is EOS, 257… are the pieces in order. */
export class PieceTokenizer implements Tokenizer {
  readonly eosTokenId = 256;
  readonly eosTokenIds: readonly number[] = [256];
  readonly hasChatTemplate = false;
  readonly vocabSize: number;
  private readonly pieces: string[];
  private readonly byLength: { text: string; id: number }[];
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();

  constructor(pieces: readonly string[] = DEFAULT_PIECES) {
    this.pieces = [...pieces];
    this.byLength = [{ text: EOS_TEXT, id: 256 }, ...pieces.map((text, i) => ({ text, id: 257 + i }))].sort(
      (a, b) => b.text.length - a.text.length,
    );
    this.vocabSize = 257 + pieces.length;
  }

  encode(text: string): number[] {
    const ids: number[] = [];
    let i = 0;
    while (i < text.length) {
      const piece = this.byLength.find((candidate) => text.startsWith(candidate.text, i));
      if (piece !== undefined) {
        ids.push(piece.id);
        i += piece.text.length;
        continue;
      }
      const codePoint = text.codePointAt(i)!;
      const char = String.fromCodePoint(codePoint);
      ids.push(...this.encoder.encode(char));
      i += char.length;
    }
    return ids;
  }

  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    let out = '';
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) out += this.decoder.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (const id of ids) {
      if (id >= 0 && id < 256) {
        bytes.push(id);
        continue;
      }
      flush();
      if (id === 256) out += options.skipSpecialTokens ? '' : EOS_TEXT;
      else {
        const piece = this.pieces[id - 257];
        if (piece === undefined)
          throw new RangeError(`PieceTokenizer: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
        out += piece;
      }
    }
    flush();
    return out;
  }
}
