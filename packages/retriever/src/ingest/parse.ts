// Turns one file of a documents folder into text blocks (headings and paragraphs) with well-kept
// parsers: Markdown through mdast (micromark, with GFM tables), HTML through Mozilla's Readability
// (main content only) on linkedom, PDF through unpdf (pdf.js), plain text by blank lines, JSONL by record.

import { extname } from 'node:path';
import { importOptional } from '@sr1/core';
import type { Nodes as MdastNode } from 'mdast';
import { IngestFileError } from './errors.js';

// The parsers are loaded on first use: together they take seconds to import, and most users of
// this package (the trainer, the server) never parse a document. They are optional peer
// dependencies: a missing one is a MissingDependencyError naming the package to install.
const FEATURE = 'ingesting documents (sr1-retriever ingest)';
const optional = <T>(name: string, load: () => Promise<T>) => importOptional(name, FEATURE, load);
const markdownParser = lazy(async () => {
  const [{ fromMarkdown }, { gfmFromMarkdown }, { toString: mdastToString }, { gfm }] = await Promise.all([
    optional('mdast-util-from-markdown', () => import('mdast-util-from-markdown')),
    optional('mdast-util-gfm', () => import('mdast-util-gfm')),
    optional('mdast-util-to-string', () => import('mdast-util-to-string')),
    optional('micromark-extension-gfm', () => import('micromark-extension-gfm')),
  ]);
  return { fromMarkdown, gfmFromMarkdown, mdastToString, gfm };
});
const htmlParser = lazy(async () => {
  const [{ Readability }, { parseHTML }] = await Promise.all([
    optional('@mozilla/readability', () => import('@mozilla/readability')),
    optional('linkedom', () => import('linkedom')),
  ]);
  return { Readability, parseHTML };
});
const pdfParser = lazy(() => optional('unpdf', () => import('unpdf')));

function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => {
    loaded ??= load();
    return loaded;
  };
}

/** The formats `ingest` reads, by file extension. */
export type DocumentFormat = 'markdown' | 'html' | 'pdf' | 'text' | 'jsonl';

export const FORMAT_BY_EXTENSION: Readonly<Record<string, DocumentFormat>> = {
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.mdx': 'markdown',
  '.html': 'html',
  '.htm': 'html',
  '.pdf': 'pdf',
  '.txt': 'text',
  '.text': 'text',
  '.jsonl': 'jsonl',
};

/** The format of a file by its extension, or undefined when `ingest` does not read it. */
export function formatOf(path: string): DocumentFormat | undefined {
  return FORMAT_BY_EXTENSION[extname(path).toLowerCase()];
}

/** One structural unit of a document: a heading (depth 1–6) or a run of body text. */
export type Block = { type: 'heading'; depth: number; text: string } | { type: 'text'; text: string };

/** A parsed document: its title and blocks in reading order. */
export interface ParsedDocument {
  /** Distinguishes documents of one file (`line:N` for a JSONL record, `''` otherwise). */
  part: string;
  title: string;
  blocks: Block[];
  /** 1-based page of each block (PDF only), parallel to `blocks`. */
  pages?: number[];
}

/** Collapses whitespace runs to one space and trims: passages are prose, not layout. */
function clean(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function fileStem(path: string): string {
  const base = path.split('/').pop() ?? path;
  const extension = extname(base);
  return extension.length > 0 ? base.slice(0, -extension.length) : base;
}

/**
 * Parses a file's bytes. `path` (relative to the documents folder) names the file in errors and
 * gives the title when the document has none. Throws `IngestFileError` for content it cannot read.
 */
export async function parseDocument(
  path: string,
  bytes: Uint8Array,
  format: DocumentFormat,
): Promise<ParsedDocument[]> {
  switch (format) {
    case 'markdown':
      return [parseMarkdown(path, decodeUtf8(path, bytes), await markdownParser())];
    case 'html':
      return [parseHtmlDocument(path, decodeUtf8(path, bytes), await htmlParser())];
    case 'pdf':
      return [await parsePdf(path, bytes)];
    case 'text':
      return [parseText(path, decodeUtf8(path, bytes))];
    case 'jsonl':
      return parseJsonl(path, decodeUtf8(path, bytes));
  }
}

function decodeUtf8(path: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new IngestFileError(path, 'not valid UTF-8 text');
  }
}

// Markdown: headings become heading blocks; paragraphs, list items, block quotes, code and table
// rows become text blocks (mdast-util-to-string drops the markup, keeps link and emphasis text).
function parseMarkdown(
  path: string,
  source: string,
  { fromMarkdown, gfm, gfmFromMarkdown, mdastToString }: Awaited<ReturnType<typeof markdownParser>>,
): ParsedDocument {
  const tree = fromMarkdown(source, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const blocks: Block[] = [];
  const visit = (node: MdastNode): void => {
    switch (node.type) {
      case 'heading':
        blocks.push({ type: 'heading', depth: node.depth, text: clean(mdastToString(node)) });
        return;
      case 'paragraph':
      case 'code':
      case 'tableRow':
        pushText(blocks, node.type === 'code' ? node.value : mdastToString(node));
        return;
      case 'table':
        for (const row of node.children) {
          pushText(blocks, row.children.map((cell) => clean(mdastToString(cell))).join(' | '));
        }
        return;
      case 'html':
      case 'definition':
      case 'thematicBreak':
      case 'yaml':
        return;
      default:
        if ('children' in node) for (const child of node.children) visit(child as MdastNode);
    }
  };
  visit(tree);
  const firstHeading = blocks.find((block) => block.type === 'heading' && block.depth === 1);
  return { part: '', title: firstHeading?.text ?? fileStem(path), blocks };
}

function pushText(blocks: Block[], text: string): void {
  const cleaned = clean(text);
  if (cleaned.length > 0) blocks.push({ type: 'text', text: cleaned });
}

const HEADING = /^h([1-6])$/;
// Elements read as one text block each; their descendants are not visited again.
const TEXT_ELEMENTS = new Set([
  'p',
  'li',
  'pre',
  'blockquote',
  'td',
  'th',
  'dt',
  'dd',
  'figcaption',
  'caption',
  'address',
]);
const BLOCK_CONTAINERS = new Set([
  'div',
  'section',
  'article',
  'main',
  'ul',
  'ol',
  'dl',
  'table',
  'thead',
  'tbody',
  'tfoot',
  'tr',
  'figure',
  'body',
  'header',
  'footer',
  'aside',
  'nav',
  'details',
]);

interface DomNode {
  nodeType: number;
  localName?: string;
  textContent: string | null;
  childNodes: ArrayLike<DomNode>;
}

// HTML: Readability keeps the main content (no navigation, sidebars or footers); the kept HTML is
// then walked in order for headings and text elements.
function parseHtmlDocument(
  path: string,
  html: string,
  { Readability, parseHTML }: Awaited<ReturnType<typeof htmlParser>>,
): ParsedDocument {
  const { document } = parseHTML(html);
  const pageTitle = clean(document.title ?? '');
  // biome-ignore lint/suspicious/noExplicitAny: linkedom's Document stands in for the DOM's, which Readability types against
  const article = new Readability(document as any, { charThreshold: 0 }).parse();
  const content = article?.content ?? (document.body as { innerHTML?: string } | null)?.innerHTML ?? '';
  const { document: kept } = parseHTML(`<!doctype html><html><body>${content}</body></html>`);
  const blocks: Block[] = [];
  const isSkipped = (name: string) =>
    name === 'script' || name === 'style' || name === 'template' || name === 'noscript';
  const isBlock = (node: DomNode) => {
    const name = node.localName ?? '';
    return HEADING.test(name) || TEXT_ELEMENTS.has(name) || BLOCK_CONTAINERS.has(name) || hasBlockChild(node);
  };
  // Consecutive inline content (text nodes, <a>, <em>, …) between blocks is one paragraph.
  const visitChildren = (node: DomNode): void => {
    let inline = '';
    for (const child of Array.from(node.childNodes)) {
      if (
        child.nodeType === 3 ||
        (child.nodeType === 1 && !isSkipped(child.localName ?? '') && !isBlock(child))
      ) {
        inline += child.textContent ?? '';
        continue;
      }
      pushText(blocks, inline);
      inline = '';
      if (child.nodeType === 1) visit(child);
    }
    pushText(blocks, inline);
  };
  const visit = (node: DomNode): void => {
    const name = node.localName ?? '';
    if (isSkipped(name)) return;
    const heading = HEADING.exec(name);
    if (heading !== null) {
      const text = clean(node.textContent ?? '');
      if (text.length > 0) blocks.push({ type: 'heading', depth: Number(heading[1]), text });
    } else if (TEXT_ELEMENTS.has(name) && !hasBlockChild(node)) {
      pushText(blocks, node.textContent ?? '');
    } else {
      visitChildren(node);
    }
  };
  visit(kept.body as unknown as DomNode);
  const title = clean(article?.title ?? '') || pageTitle || fileStem(path);
  return { part: '', title, blocks };
}

function hasBlockChild(node: DomNode): boolean {
  for (const child of Array.from(node.childNodes)) {
    const name = child.localName ?? '';
    if (child.nodeType !== 1) continue;
    if (HEADING.test(name) || TEXT_ELEMENTS.has(name) || BLOCK_CONTAINERS.has(name)) return true;
    if (hasBlockChild(child)) return true;
  }
  return false;
}

// PDF: pdf.js text per page; a page's lines are one text run (PDFs carry no paragraph structure
// that survives extraction reliably), which the chunker splits by sentences.
async function parsePdf(path: string, bytes: Uint8Array): Promise<ParsedDocument> {
  let pages: string[];
  let metaTitle = '';
  const { extractText, getDocumentProxy, getMeta } = await pdfParser();
  try {
    // pdf.js takes ownership of (detaches) the buffer it reads, so it gets a copy.
    const pdf = await getDocumentProxy(new Uint8Array(bytes), { verbosity: 0 }); // errors only: warnings would clutter the CLI
    const meta = await getMeta(pdf);
    const info = meta.info as { Title?: unknown };
    metaTitle = typeof info.Title === 'string' ? clean(info.Title) : '';
    pages = (await extractText(pdf, { mergePages: false })).text;
    await pdf.destroy();
  } catch (error) {
    throw new IngestFileError(path, `not a readable PDF (${(error as Error).message})`, { cause: error });
  }
  const blocks: Block[] = [];
  const pageOfBlock: number[] = [];
  pages.forEach((text, page) => {
    const cleaned = clean(text);
    if (cleaned.length === 0) return;
    blocks.push({ type: 'text', text: cleaned });
    pageOfBlock.push(page + 1);
  });
  if (blocks.length === 0) {
    throw new IngestFileError(path, 'the PDF has no text layer (scanned images need OCR first)');
  }
  return { part: '', title: metaTitle || fileStem(path), blocks, pages: pageOfBlock };
}

// Plain text: paragraphs are separated by blank lines; the file name is the title.
function parseText(path: string, text: string): ParsedDocument {
  const blocks: Block[] = [];
  for (const paragraph of text.split(/\r?\n\s*\r?\n/)) pushText(blocks, paragraph);
  return { part: '', title: fileStem(path), blocks };
}

// JSONL: one document per line — a Search-R1 passage `{"id", "contents": "\"Title\"\ntext"}` or
// `{"title"?, "text"}`. Blank lines are skipped; any other malformed line fails the file.
function parseJsonl(path: string, source: string): ParsedDocument[] {
  const documents: ParsedDocument[] = [];
  source.split('\n').forEach((line, index) => {
    if (line.trim().length === 0) return;
    const lineNumber = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new IngestFileError(path, `not valid JSON (${(error as Error).message})`, { line: lineNumber });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new IngestFileError(path, 'expected a JSON object with "contents" or "text"', {
        line: lineNumber,
      });
    }
    const record = value as Record<string, unknown>;
    let title: string;
    let text: string;
    if (typeof record.contents === 'string') {
      const newline = record.contents.indexOf('\n');
      title = clean(newline < 0 ? record.contents : record.contents.slice(0, newline)).replace(
        /^"+|"+$/g,
        '',
      );
      text = newline < 0 ? '' : record.contents.slice(newline + 1);
    } else if (typeof record.text === 'string') {
      title = typeof record.title === 'string' ? clean(record.title) : '';
      text = record.text;
    } else {
      throw new IngestFileError(path, 'expected a string field "contents" or "text"', { line: lineNumber });
    }
    const blocks: Block[] = [];
    pushText(blocks, text);
    documents.push({ part: `line:${lineNumber}`, title: title || `${fileStem(path)} ${lineNumber}`, blocks });
  });
  return documents;
}
