// The Search-R1 corpus: a streaming reader for its JSONL (`{"id", "contents"}`, quoted title on the
// first line of `contents`) and an on-disk document store with random access, so a server never
// needs the passage text in RAM. Only the byte offsets (8 bytes per passage) stay in memory.

import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readFileSync, readSync, statSync, writeSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import {
  CorpusFormatError,
  IndexCorruptError,
  RetrieverInputError,
  RetrieverInvariantError,
} from './errors.js';

/** One corpus passage as stored: the id and the raw `contents` ("\"Title\"\ntext"). */
export interface Passage {
  id: string;
  contents: string;
}

/** A passage split the way the reference does: title = first line without its quotes, text = the rest. */
export interface ParsedPassage extends Passage {
  title: string;
  text: string;
}

/** Splits `contents` into title and text exactly as the reference (`split("\n")[0].strip('"')`). */
export function splitContents(contents: string): { title: string; text: string } {
  const newline = contents.indexOf('\n');
  const firstLine = newline < 0 ? contents : contents.slice(0, newline);
  const text = newline < 0 ? '' : contents.slice(newline + 1);
  return { title: stripQuotes(firstLine), text };
}

function stripQuotes(line: string): string {
  let start = 0;
  let end = line.length;
  while (start < end && line.charCodeAt(start) === 34) start++;
  while (end > start && line.charCodeAt(end - 1) === 34) end--;
  return line.slice(start, end);
}

/**
 * Parses one JSONL line of a Search-R1 corpus. `id` may be a string or an integer (kept as its
 * decimal string); `contents` must be a string. Throws `CorpusFormatError` naming `file:line`.
 */
export function parseCorpusLine(line: string, file: string, lineNumber: number): Passage {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new CorpusFormatError({
      file,
      line: lineNumber,
      reason: `not valid JSON (${(error as Error).message})`,
    });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new CorpusFormatError({
      file,
      line: lineNumber,
      reason: 'expected a JSON object {"id", "contents"}',
    });
  }
  const record = value as Record<string, unknown>;
  let id = record.id;
  if (typeof id === 'number' && Number.isInteger(id)) id = String(id);
  if (typeof id !== 'string' || id.length === 0) {
    throw new CorpusFormatError({
      file,
      line: lineNumber,
      field: 'id',
      reason: 'expected a non-empty string (or an integer)',
    });
  }
  const contents = record.contents;
  if (typeof contents !== 'string') {
    throw new CorpusFormatError({ file, line: lineNumber, field: 'contents', reason: 'expected a string' });
  }
  return { id, contents };
}

/** Progress of a streaming read: bytes consumed so far out of the file's size. */
export interface ReadProgress {
  bytesRead: number;
  totalBytes: number;
  passages: number;
}

/** What a completed corpus read saw: the sha256 of the file's bytes and the passage count. */
export interface CorpusDigest {
  sha256: string;
  bytes: number;
  passages: number;
}

/** What to do with a passage whose id an earlier passage already has. */
export type DuplicateIdPolicy = 'error' | 'skip';
/** What to do with a line that is not valid UTF-8. */
export type InvalidUtf8Policy = 'error' | 'replace' | 'skip';

/** Lines a read skipped or repaired under a non-`error` policy: how many, and the first few (1-based). */
export interface CorpusIssue {
  count: number;
  lines: number[];
}

/** What `readCorpus` skipped or repaired. */
export interface CorpusReport {
  duplicateIds: CorpusIssue;
  invalidUtf8: CorpusIssue;
}

/** Options of `readCorpus`. */
export interface ReadCorpusOptions {
  /** Filled with the file's sha256, size and passage count when the read completes. */
  digest?: Partial<CorpusDigest>;
  onProgress?: (progress: ReadProgress) => void;
  /** `error` (default): a repeated id throws naming both lines; `skip`: keep the first, report the rest. */
  duplicateIds?: DuplicateIdPolicy;
  /** `error` (default): throw naming the line; `replace`: decode with U+FFFD; `skip`: drop the line. Both reported. */
  invalidUtf8?: InvalidUtf8Policy;
  /** Filled with what was skipped or repaired. */
  report?: Partial<CorpusReport>;
}

const REPORTED_LINES = 10; // enough to find the problem; the count says how many there are

function note(issue: CorpusIssue, line: number): void {
  issue.count++;
  if (issue.lines.length < REPORTED_LINES) issue.lines.push(line);
}

/**
 * Remembers the ids seen so far and the line of each. Ordinal ids ("0", "1", …, the Search-R1
 * corpora) cost 4 bytes each; from the first other id on, ids go into a map.
 */
class IdRegistry {
  private ordinalLines = new Uint32Array(1024);
  private ordinalCount = 0;
  private others: Map<string, number> | undefined;

  /** The line of an earlier passage with this id, or undefined (then the id is recorded at `line`). */
  firstLineOf(id: string, line: number): number | undefined {
    if (this.others === undefined && id === String(this.ordinalCount)) {
      if (this.ordinalCount >= this.ordinalLines.length) {
        const grown = new Uint32Array(this.ordinalLines.length * 2);
        grown.set(this.ordinalLines);
        this.ordinalLines = grown;
      }
      this.ordinalLines[this.ordinalCount++] = line;
      return undefined;
    }
    if (/^(0|[1-9][0-9]*)$/.test(id)) {
      const ordinal = Number(id);
      if (ordinal < this.ordinalCount) return this.ordinalLines[ordinal];
    }
    this.others ??= new Map();
    const first = this.others.get(id);
    if (first !== undefined) return first;
    this.others.set(id, line);
    return undefined;
  }
}

/** Splits a byte stream into lines (on \n, dropping a trailing \r), as raw bytes. */
async function* rawLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry: Buffer | undefined;
  for await (const chunk of chunks) {
    let start = 0;
    for (let newline = chunk.indexOf(10); newline >= 0; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      yield carry === undefined ? piece : Buffer.concat([carry, piece]);
      carry = undefined;
      start = newline + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      carry = carry === undefined ? Buffer.from(rest) : Buffer.concat([carry, rest]);
    }
  }
  if (carry !== undefined && carry.length > 0) yield carry;
}

/**
 * Streams the passages of a Search-R1 JSONL corpus of any size, one at a time, in file order.
 * Blank lines are ignored; any other malformed line throws `CorpusFormatError` naming `file:line`,
 * and so do a repeated id and a line that is not valid UTF-8 unless `options` say to skip (or
 * replace) them, which `options.report` then records. When the iteration finishes, `digest` (if
 * given) is filled with the file's sha256 and the passage count.
 */
export async function* readCorpus(file: string, options: ReadCorpusOptions = {}): AsyncGenerator<Passage> {
  const totalBytes = statSync(file).size;
  const hash = createHash('sha256');
  const stream = createReadStream(file, { highWaterMark: 1 << 20 });
  let bytesRead = 0;
  const chunks = (async function* () {
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      bytesRead += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  })();
  const duplicatePolicy = options.duplicateIds ?? 'error';
  const utf8Policy = options.invalidUtf8 ?? 'error';
  const report: CorpusReport = {
    duplicateIds: { count: 0, lines: [] },
    invalidUtf8: { count: 0, lines: [] },
  };
  const ids = new IdRegistry();
  let lineNumber = 0;
  let passages = 0;
  try {
    for await (let bytes of rawLines(chunks)) {
      lineNumber++;
      if (lineNumber === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf)
        bytes = bytes.subarray(3); // BOM
      if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes = bytes.subarray(0, bytes.length - 1);
      if (!isUtf8(bytes)) {
        if (utf8Policy === 'error') {
          throw new CorpusFormatError({
            file,
            line: lineNumber,
            reason: 'not valid UTF-8; pass --invalid-utf8 replace or skip',
          });
        }
        note(report.invalidUtf8, lineNumber);
        if (utf8Policy === 'skip') continue;
      }
      const line = bytes.toString('utf8');
      if (line.trim().length === 0) continue;
      const passage = parseCorpusLine(line, file, lineNumber);
      const firstLine = ids.firstLineOf(passage.id, lineNumber);
      if (firstLine !== undefined) {
        if (duplicatePolicy === 'error') {
          throw new CorpusFormatError({
            file,
            line: lineNumber,
            field: 'id',
            reason: `duplicate id '${passage.id}' (first at line ${firstLine}); pass --duplicate-ids skip to keep the first and report the rest`,
          });
        }
        note(report.duplicateIds, lineNumber);
        continue;
      }
      passages++;
      if (options.onProgress !== undefined && (passages & 1023) === 0) {
        options.onProgress({ bytesRead, totalBytes, passages });
      }
      yield passage;
    }
  } finally {
    stream.destroy();
    if (options.report !== undefined) Object.assign(options.report, report);
  }
  options.onProgress?.({ bytesRead: totalBytes, totalBytes, passages });
  if (options.digest !== undefined) {
    options.digest.sha256 = hash.digest('hex');
    options.digest.bytes = bytesRead;
    options.digest.passages = passages;
  }
}

/** sha256 of a file, streamed. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** File names of a document store inside an index folder. */
export const DOC_STORE_FILES = { docs: 'docs.jsonl', offsets: 'docs.offsets' } as const;

/**
 * Writes a document store: `docs.jsonl` holds one canonical `{"id","contents"}` JSON line per
 * passage (itself a valid Search-R1 corpus), `docs.offsets` the byte offset of each line as
 * float64 (n + 1 entries, the last one is the file size). Appends are buffered.
 */
export class DocStoreWriter {
  private readonly fd: number;
  private readonly offsetsFile: string;
  private offsets: Float64Array = new Float64Array(1024);
  private count = 0;
  private position = 0;
  private chunks: Buffer[] = [];
  private pending = 0;
  private ordinalIds = true;

  constructor(docsFile: string, offsetsFile: string) {
    this.fd = openSync(docsFile, 'w');
    this.offsetsFile = offsetsFile;
  }

  /** Appends one passage; returns its internal index (0-based, in append order). */
  add(passage: Passage): number {
    const line = Buffer.from(`${JSON.stringify({ id: passage.id, contents: passage.contents })}\n`, 'utf8');
    if (this.count + 1 >= this.offsets.length) {
      const grown = new Float64Array(this.offsets.length * 2);
      grown.set(this.offsets);
      this.offsets = grown;
    }
    if (this.ordinalIds && passage.id !== String(this.count)) this.ordinalIds = false;
    this.offsets[this.count] = this.position;
    this.position += line.length;
    this.chunks.push(line);
    this.pending += line.length;
    if (this.pending >= 1 << 20) this.flush();
    return this.count++;
  }

  private flush(): void {
    if (this.pending === 0) return;
    writeSync(this.fd, Buffer.concat(this.chunks, this.pending));
    this.chunks = [];
    this.pending = 0;
  }

  /** Flushes and closes; returns the passage count and whether every id equals its index. */
  close(): { passages: number; ordinalIds: boolean } {
    this.flush();
    closeSync(this.fd);
    this.offsets[this.count] = this.position;
    const fd = openSync(this.offsetsFile, 'w');
    const view = this.offsets.subarray(0, this.count + 1);
    writeSync(fd, new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    closeSync(fd);
    return { passages: this.count, ordinalIds: this.ordinalIds };
  }
}

/**
 * Random access to a document store on disk. Keeps only the offsets in memory (8 bytes/passage);
 * each `get` is one positioned read, served from the OS page cache when the file is hot.
 */
export class DocStore {
  /** Number of passages. */
  readonly size: number;
  private readonly fd: number;
  private readonly offsets: Float64Array;
  private readonly ordinalIds: boolean;
  private idToIndex: Map<string, number> | undefined;
  private buffer: Buffer = Buffer.allocUnsafe(1 << 16);

  private constructor(fd: number, offsets: Float64Array, ordinalIds: boolean) {
    this.fd = fd;
    this.offsets = offsets;
    this.size = offsets.length - 1;
    this.ordinalIds = ordinalIds;
  }

  /** Opens a store written by `DocStoreWriter`. `ordinalIds` = every id is its index as a string. */
  static open(docsFile: string, offsetsFile: string, ordinalIds: boolean): DocStore {
    // A damaged store fails here, naming the file, rather than answering with wrong passages.
    const corrupt = (file: string, reason: string) => new IndexCorruptError(dirname(file), file, reason);
    const raw = readFileSync(offsetsFile);
    if (raw.length % 8 !== 0 || raw.length < 8) {
      throw corrupt(offsetsFile, `expected n + 1 float64 offsets, got ${raw.length} bytes`);
    }
    const offsets = new Float64Array(raw.length / 8);
    new Uint8Array(offsets.buffer).set(raw);
    for (let index = 1; index < offsets.length; index++) {
      if (!(offsets[index]! > offsets[index - 1]!) || offsets[0] !== 0)
        throw corrupt(offsetsFile, `offsets are not increasing at passage ${index - 1}`);
    }
    const actual = statSync(docsFile).size;
    const expected = offsets[offsets.length - 1]!;
    if (expected !== actual) {
      throw corrupt(offsetsFile, `ends at byte ${expected}, but ${basename(docsFile)} holds ${actual} bytes`);
    }
    const fd = openSync(docsFile, 'r');
    return new DocStore(fd, offsets, ordinalIds);
  }

  /** Bytes of all stored lines (the size of docs.jsonl when it was opened). */
  get totalBytes(): number {
    return this.offsets[this.size]!;
  }

  /** The raw canonical JSON line of passage `index` (no newline), `{"id":…,"contents":…}`. */
  rawJson(index: number): string {
    if (!(index >= 0 && index < this.size)) {
      throw new RetrieverInputError('index', `passage index ${index} outside [0, ${this.size})`);
    }
    const start = this.offsets[index]!;
    const length = this.offsets[index + 1]! - start - 1;
    if (this.buffer.length < length)
      this.buffer = Buffer.allocUnsafe(Math.max(length, this.buffer.length * 2));
    const read = readSync(this.fd, this.buffer, 0, length, start);
    if (read !== length)
      throw new RetrieverInvariantError(`short read of passage ${index}: ${read} of ${length} bytes`);
    return this.buffer.toString('utf8', 0, length);
  }

  /** Passage `index` (internal order). */
  get(index: number): Passage {
    return JSON.parse(this.rawJson(index)) as Passage;
  }

  /** Passage `index` with its title and text split out. */
  getParsed(index: number): ParsedPassage {
    const passage = this.get(index);
    return { ...passage, ...splitContents(passage.contents) };
  }

  /** Internal index of the passage with this corpus id, or undefined. Builds an id map on first use unless ids are ordinal. */
  indexOf(id: string): number | undefined {
    if (this.ordinalIds) {
      const index = /^(0|[1-9][0-9]*)$/.test(id) ? Number(id) : -1;
      return index >= 0 && index < this.size ? index : undefined;
    }
    if (this.idToIndex === undefined) {
      const map = new Map<string, number>();
      for (let index = 0; index < this.size; index++) map.set(this.get(index).id, index);
      this.idToIndex = map;
    }
    return this.idToIndex.get(id);
  }

  /** Passage with this corpus id, or undefined. */
  getById(id: string): Passage | undefined {
    const index = this.indexOf(id);
    return index === undefined ? undefined : this.get(index);
  }

  /** Iterates all passages in order (sequential reads). */
  *entries(): Generator<Passage> {
    for (let index = 0; index < this.size; index++) yield this.get(index);
  }

  /** Closes the file descriptor. */
  close(): void {
    closeSync(this.fd);
  }
}
