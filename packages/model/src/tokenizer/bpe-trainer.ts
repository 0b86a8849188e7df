// Trains a byte-level BPE tokenizer (GPT-2/Qwen2 style: the Qwen2 pre-tokenisation regex, bytes
// mapped to printable characters, merges learned by pair frequency) and writes it as a standard
// HF `tokenizer.json` + `tokenizer_config.json` (ChatML chat template) that transformers loads.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';

/** Qwen2's pre-tokenisation pattern, as it appears in its tokenizer.json (and llama.cpp's "qwen2"). */
export const QWEN2_PRETOKENIZE_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** The same pattern as a JS regex (JS has no inline `(?i:` group, so the contractions spell both cases). */
const PRETOKENIZE_REGEX =
  /'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Qwen's special tokens: end of text (also pad), and the ChatML turn delimiters. */
export const CHATML_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

/** Qwen2.5's ChatML template without tool calling: a system turn is added when none is given. */
export const CHATML_TEMPLATE =
  "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
  "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

export interface TrainBpeOptions {
  /** Size of the whole vocabulary: 256 byte tokens + merges + special tokens. */
  vocabSize: number;
  /** Added as special tokens after the learned vocabulary (default: ChatML's three). */
  specialTokens?: readonly string[];
  /** Pairs seen fewer times than this are never merged (default 2: a merge must compress). */
  minFrequency?: number;
}

/** A trained tokenizer as the two HF JSON files. */
export interface TrainedTokenizer {
  /** The `tokenizer.json` object. */
  tokenizerJson: Record<string, unknown>;
  /** The `tokenizer_config.json` object. */
  tokenizerConfig: Record<string, unknown>;
  /** Learned merges in rank order, as pairs of byte-level token strings. */
  merges: [string, string][];
  /** Token string → id (byte tokens, merged tokens, then specials). */
  vocab: Map<string, number>;
}

/** GPT-2's reversible map from bytes to printable unicode characters (space → 'Ġ', '\n' → 'Ċ'). */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const table: string[] = new Array(256);
  for (const b of printable) table[b] = String.fromCodePoint(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCodePoint(256 + extra++);
  }
  return table;
}

/** Splits text into pre-tokens exactly as the tokenizer's Split pre-tokenizer does. */
export function preTokenize(text: string): string[] {
  return text.match(PRETOKENIZE_REGEX) ?? [];
}

/**
 * Learns byte-level BPE merges from texts. Each step merges the most frequent adjacent pair
 * (ties: the pair whose merged string sorts first, so training is deterministic), updating
 * pair counts incrementally in the words that contain it.
 */
export function trainBpeTokenizer(texts: Iterable<string>, options: TrainBpeOptions): TrainedTokenizer {
  const specialTokens = [...(options.specialTokens ?? CHATML_SPECIAL_TOKENS)];
  const minFrequency = options.minFrequency ?? 2;
  const mergeBudget = options.vocabSize - 256 - specialTokens.length;
  if (!Number.isInteger(options.vocabSize) || mergeBudget < 0) {
    throw new InvalidInputError({
      field: 'vocabSize',
      reason: `must be an integer ≥ 256 + ${specialTokens.length} special tokens, got ${options.vocabSize}`,
    });
  }
  const byteChars = bytesToUnicode();
  const encoder = new TextEncoder();

  // Count pre-tokens, then turn each distinct one into a list of symbol ids.
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const piece of preTokenize(text)) wordCounts.set(piece, (wordCounts.get(piece) ?? 0) + 1);
  }
  const symbols: string[] = [...byteChars]; // id → token string
  const words: number[][] = [];
  const counts: number[] = [];
  for (const [piece, count] of wordCounts) {
    words.push([...encoder.encode(piece)]);
    counts.push(count);
  }

  // Pair statistics; a pair (a, b) is keyed a * 2^16 + b (ids stay below 65536).
  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const word = words[w]!;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = word[i]! * 65536 + word[i + 1]!;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * counts[w]!);
      if (sign === 1) {
        let set = pairWords.get(key);
        if (set === undefined) {
          set = new Set();
          pairWords.set(key, set);
        }
        set.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, 1);

  const merges: [string, string][] = [];
  const symbolIds = new Map<string, number>(symbols.map((token, id) => [token, id]));
  while (symbols.length < 256 + mergeBudget) {
    let bestKey = -1;
    let bestCount = 0;
    let bestString = '';
    for (const [key, count] of pairCounts) {
      if (count < bestCount || count < minFrequency) continue;
      const merged = symbols[Math.floor(key / 65536)]! + symbols[key % 65536]!;
      if (count > bestCount || merged < bestString) {
        bestKey = key;
        bestCount = count;
        bestString = merged;
      }
    }
    if (bestKey < 0) break;
    const left = Math.floor(bestKey / 65536);
    const right = bestKey % 65536;
    // Two different pairs can spell the same string ('ab'+'c', 'a'+'bc'): they share one id, as in HF.
    let id = symbolIds.get(bestString);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(bestString);
      symbolIds.set(bestString, id);
    }
    merges.push([symbols[left]!, symbols[right]!]);
    for (const w of pairWords.get(bestKey) ?? []) {
      const word = words[w]!;
      addPairs(w, -1);
      const merged: number[] = [];
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === left && word[i + 1] === right) {
          merged.push(id);
          i++;
        } else {
          merged.push(word[i]!);
        }
      }
      words[w] = merged;
      addPairs(w, 1);
    }
    pairWords.delete(bestKey);
    pairCounts.delete(bestKey);
    for (const [key, count] of pairCounts) if (count === 0) pairCounts.delete(key);
  }

  const vocab = new Map<string, number>(symbols.map((token, id) => [token, id]));
  const addedTokens = specialTokens.map((content, index) => {
    if (vocab.has(content)) {
      throw new InvalidInputError({ field: 'specialTokens', reason: `'${content}' is also a learned token` });
    }
    const id = symbols.length + index;
    vocab.set(content, id);
    return {
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    };
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    // No normaliser (Qwen2 uses NFC): text must round-trip byte for byte.
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: QWEN2_PRETOKENIZE_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries([...symbols.entries()].map(([id, token]) => [token, id])),
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const endOfText = specialTokens.includes('<|endoftext|>') ? '<|endoftext|>' : specialTokens[0];
  const endOfTurn = specialTokens.includes('<|im_end|>') ? '<|im_end|>' : endOfText;
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: 'Qwen2Tokenizer',
    add_bos_token: false,
    add_prefix_space: false,
    bos_token: null,
    eos_token: endOfTurn ?? null,
    pad_token: endOfText ?? null,
    unk_token: null,
    clean_up_tokenization_spaces: false,
    errors: 'replace',
    model_max_length: 32768,
    split_special_tokens: false,
    added_tokens_decoder: Object.fromEntries(addedTokens.map(({ id, ...rest }) => [String(id), rest])),
    additional_special_tokens: specialTokens.filter((token) => token !== endOfText && token !== endOfTurn),
    ...(specialTokens.includes('<|im_start|>') && specialTokens.includes('<|im_end|>')
      ? { chat_template: CHATML_TEMPLATE }
      : {}),
  };
  return { tokenizerJson, tokenizerConfig, merges, vocab };
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into a folder. */
export async function saveTrainedTokenizer(dir: string, trained: TrainedTokenizer): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'tokenizer.json'), `${JSON.stringify(trained.tokenizerJson, null, 2)}\n`);
  await writeFile(
    join(dir, 'tokenizer_config.json'),
    `${JSON.stringify(trained.tokenizerConfig, null, 2)}\n`,
  );
}
