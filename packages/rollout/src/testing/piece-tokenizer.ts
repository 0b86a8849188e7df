// A small but real tokenizer for tests: greedy longest match over a list of multi-character
// pieces, falling back to UTF-8 bytes. Its pieces merge across the `</search>` / `\n\n`
// boundary, so re-tokenising concatenated text differs from concatenating tokenisations — the
// situation a real BPE tokenizer creates and the rollout must handle.

import type { ChatMessage, Tokenizer, ToolSchema } from '../types.js';

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

/** A chat template as a function (what a tokenizer's jinja template computes). */
export type ChatTemplateFunction = (
  messages: readonly ChatMessage[],
  options: { addGenerationPrompt?: boolean; tools?: readonly ToolSchema[] },
) => string;

export interface PieceTokenizerOptions {
  /** The EOS token's text (default `<|endoftext|>`). */
  eosText?: string;
  /** A chat template; without one `hasChatTemplate` is false. */
  chatTemplate?: ChatTemplateFunction;
}

/** Greedy longest-match tokenizer: ids 0–255 are bytes, 256 is EOS, 257… are the pieces in order. */
export class PieceTokenizer implements Tokenizer {
  readonly eosTokenId = 256;
  readonly eosTokenIds: readonly number[] = [256];
  readonly hasChatTemplate: boolean;
  readonly vocabSize: number;
  private readonly pieces: string[];
  private readonly byLength: { text: string; id: number }[];
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private readonly eosText: string;
  private readonly chatTemplate: ChatTemplateFunction | undefined;

  constructor(pieces: readonly string[] = DEFAULT_PIECES, options: PieceTokenizerOptions = {}) {
    this.pieces = [...pieces];
    this.eosText = options.eosText ?? EOS_TEXT;
    this.chatTemplate = options.chatTemplate;
    this.hasChatTemplate = options.chatTemplate !== undefined;
    this.byLength = [
      { text: this.eosText, id: 256 },
      ...pieces.map((text, i) => ({ text, id: 257 + i })),
    ].sort((a, b) => b.text.length - a.text.length);
    this.vocabSize = 257 + pieces.length;
  }

  applyChatTemplate(
    messages: readonly ChatMessage[],
    options: { addGenerationPrompt?: boolean; tools?: readonly ToolSchema[] } = {},
  ): string {
    if (this.chatTemplate === undefined) throw new Error('PieceTokenizer: no chat template');
    return this.chatTemplate(messages, options);
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
      if (id === 256) out += options.skipSpecialTokens ? '' : this.eosText;
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
