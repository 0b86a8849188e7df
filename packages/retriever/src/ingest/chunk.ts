// Lays a parsed document out as one plain text (headings and paragraphs separated by blank lines)
// and cuts it into passages of about wiki-18's size: within one section (never across a heading),
// whole paragraphs where they fit, else whole sentences (Intl.Segmenter), else word windows.

import { RetrieverInputError } from '../errors.js';
import type { Block, ParsedDocument } from './parse.js';

/** How documents are cut into passages. */
export interface ChunkOptions {
  /** Most words in a passage (a single longer sentence is cut into word windows). */
  targetWords: number;
  /** Words repeated from the end of the previous passage of the same section. */
  overlapWords: number;
}

export const CHUNK_DEFAULTS: ChunkOptions = {
  targetWords: 100, // wiki-18's passages are 100 words: the size Search-R1 was trained to read
  overlapWords: 0, // wiki-18's passages do not overlap; overlap costs index size for little recall
};

/** A block placed in the document text: `text.slice(start, end)` is the block's text. */
export interface PlacedBlock {
  block: Block;
  start: number;
  end: number;
  page?: number;
}

/** A document as one text, with where each block sits in it. */
export interface DocumentLayout {
  text: string;
  blocks: PlacedBlock[];
}

/** One passage: `[start, end)` of the document text, and the headings it sits under. */
export interface Chunk {
  start: number;
  end: number;
  text: string;
  headingPath: string[];
  /** 1-based PDF page where the passage starts. */
  page?: number;
}

/** Joins the blocks with blank lines; headings keep their own line (marked with `#`s). */
export function layoutDocument(document: ParsedDocument): DocumentLayout {
  let text = '';
  const blocks: PlacedBlock[] = [];
  document.blocks.forEach((block, index) => {
    if (text.length > 0) text += '\n\n';
    const rendered = block.type === 'heading' ? `${'#'.repeat(block.depth)} ${block.text}` : block.text;
    const start = text.length + (block.type === 'heading' ? block.depth + 1 : 0);
    text += rendered;
    const page = document.pages?.[index];
    blocks.push({ block, start, end: text.length, ...(page !== undefined ? { page } : {}) });
  });
  return { text, blocks };
}

interface Unit {
  start: number;
  end: number;
  words: number;
  page?: number;
}

const WORD = /\S+/g;
const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });

function countWords(text: string): number {
  return text.match(WORD)?.length ?? 0;
}

/** Word windows of at most `size` words over `[start, end)` of `text`. */
function wordWindows(text: string, start: number, end: number, size: number, page?: number): Unit[] {
  const words = [...text.slice(start, end).matchAll(WORD)];
  const units: Unit[] = [];
  for (let first = 0; first < words.length; first += size) {
    const last = words[Math.min(first + size, words.length) - 1]!;
    units.push({
      start: start + words[first]!.index,
      end: start + last.index + last[0].length,
      words: Math.min(size, words.length - first),
      ...(page !== undefined ? { page } : {}),
    });
  }
  return units;
}

/** A block as units no longer than `size` words: itself, or its sentences, or word windows. */
function unitsOf(text: string, placed: PlacedBlock, size: number): Unit[] {
  const page = placed.page;
  const words = countWords(text.slice(placed.start, placed.end));
  if (words <= size)
    return [{ start: placed.start, end: placed.end, words, ...(page !== undefined ? { page } : {}) }];
  const units: Unit[] = [];
  for (const sentence of sentenceSegmenter.segment(text.slice(placed.start, placed.end))) {
    const raw = sentence.segment;
    const lead = raw.length - raw.trimStart().length;
    const start = placed.start + sentence.index + lead;
    const end = placed.start + sentence.index + raw.trimEnd().length;
    if (end <= start) continue;
    const count = countWords(text.slice(start, end));
    if (count <= size) units.push({ start, end, words: count, ...(page !== undefined ? { page } : {}) });
    else units.push(...wordWindows(text, start, end, size, page));
  }
  return units;
}

/** Cuts a laid-out document into passages. */
export function chunkDocument(layout: DocumentLayout, options: ChunkOptions = CHUNK_DEFAULTS): Chunk[] {
  if (!Number.isInteger(options.targetWords) || options.targetWords < 1) {
    throw new RetrieverInputError(
      'targetWords',
      `targetWords must be a positive integer, got ${options.targetWords}`,
    );
  }
  if (
    !Number.isInteger(options.overlapWords) ||
    options.overlapWords < 0 ||
    options.overlapWords >= options.targetWords
  ) {
    throw new RetrieverInputError(
      'overlapWords',
      `overlapWords must be an integer in [0, targetWords), got ${options.overlapWords}`,
    );
  }
  const text = layout.text;
  const chunks: Chunk[] = [];
  const headings: { depth: number; text: string }[] = [];
  let section: PlacedBlock[] = [];

  const flushSection = () => {
    if (section.length === 0) return;
    const headingPath = headings.map((heading) => heading.text);
    const units = section.flatMap((placed) => unitsOf(text, placed, options.targetWords));
    const sectionStart = section[0]!.start;
    section = [];
    let current: Unit | undefined;
    const pieces: Unit[] = [];
    for (const unit of units) {
      if (current !== undefined && current.words + unit.words <= options.targetWords) {
        current = { ...current, end: unit.end, words: current.words + unit.words };
      } else {
        if (current !== undefined) pieces.push(current);
        current = { ...unit };
      }
    }
    if (current !== undefined) pieces.push(current);
    pieces.forEach((piece, index) => {
      let start = piece.start;
      if (index > 0 && options.overlapWords > 0) {
        const before = [...text.slice(sectionStart, piece.start).matchAll(WORD)];
        const from = before[Math.max(0, before.length - options.overlapWords)];
        if (from !== undefined) start = sectionStart + from.index;
      }
      chunks.push({
        start,
        end: piece.end,
        text: text.slice(start, piece.end),
        headingPath,
        ...(piece.page !== undefined ? { page: piece.page } : {}),
      });
    });
  };

  for (const placed of layout.blocks) {
    if (placed.block.type === 'heading') {
      flushSection();
      while (headings.length > 0 && headings[headings.length - 1]!.depth >= placed.block.depth)
        headings.pop();
      headings.push({ depth: placed.block.depth, text: placed.block.text });
    } else {
      section.push(placed);
    }
  }
  flushSection();
  return chunks;
}
