// BM25 with Lucene's scoring (Robertson & Zaragoza 2009 as implemented by Lucene ≥ 8's
// BM25Similarity, the one pyserini uses): idf = ln(1 + (N − df + 0.5)/(df + 0.5)),
// term score = idf · tf / (tf + k1 · (1 − b + b · dl/avgdl)), summed over query terms weighted by
// their count in the query. The index is built SPIMI-style: postings accumulate in memory up to a
// budget, are flushed as sorted runs to disk, and merged, so building needs bounded memory.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { analyze } from './analysis.js';
import { IndexCorruptError, RetrieverInvariantError } from './errors.js';
import { type ScoredIndex, TopK } from './top-k.js';

/** BM25 parameters. */
export interface Bm25Parameters {
  /** Term-frequency saturation. */
  k1: number;
  /** Length normalisation strength. */
  b: number;
}

/** The reference's pyserini setting (Anserini's defaults for MS MARCO-style passages). */
export const DEFAULT_BM25_PARAMETERS: Bm25Parameters = {
  k1: 0.9, // pyserini / Anserini default, used by the Search-R1 BM25 server
  b: 0.4, // same
};

/** Files of a BM25 index inside its folder. */
const FILES = {
  meta: 'bm25.json',
  lexicon: 'lexicon.bin',
  postings: 'postings.bin',
  lengths: 'doclens.u32',
} as const;

interface Bm25Meta {
  format: 'sr1-bm25';
  version: 1;
  k1: number;
  b: number;
  documents: number;
  terms: number;
  postings: number;
  averageLength: number;
}

/** Options of the BM25 builder. */
export interface Bm25BuildOptions extends Partial<Bm25Parameters> {
  /** Postings held in memory before a run is flushed to disk. */
  memoryBudgetPostings?: number;
}

const DEFAULT_MEMORY_BUDGET_POSTINGS = 4_000_000; // ≈ 100 MB of JS arrays; a 21M-passage build makes ~400 runs

interface TermPostings {
  docs: number[];
  tfs: number[];
}

/**
 * Builds a BM25 index into `dir` from documents added in internal-index order (0, 1, 2, …).
 * Memory is bounded by `memoryBudgetPostings` plus the vocabulary of one run.
 */
export class Bm25Builder {
  private readonly dir: string;
  private readonly parameters: Bm25Parameters;
  private readonly budget: number;
  private terms = new Map<string, TermPostings>();
  private inMemory = 0;
  private runs: string[] = [];
  private lengths: Uint32Array = new Uint32Array(1024);
  private documents = 0;
  private totalLength = 0;

  constructor(dir: string, options: Bm25BuildOptions = {}) {
    this.dir = dir;
    this.parameters = {
      k1: options.k1 ?? DEFAULT_BM25_PARAMETERS.k1,
      b: options.b ?? DEFAULT_BM25_PARAMETERS.b,
    };
    this.budget = options.memoryBudgetPostings ?? DEFAULT_MEMORY_BUDGET_POSTINGS;
    mkdirSync(dir, { recursive: true });
  }

  /** Adds the next document (its internal index is the number of documents added before it). */
  add(text: string): void {
    const docIndex = this.documents++;
    const terms = analyze(text);
    if (docIndex >= this.lengths.length) {
      const grown = new Uint32Array(this.lengths.length * 2);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    this.lengths[docIndex] = terms.length;
    this.totalLength += terms.length;
    const counts = new Map<string, number>();
    for (const term of terms) counts.set(term, (counts.get(term) ?? 0) + 1);
    for (const [term, tf] of counts) {
      let postings = this.terms.get(term);
      if (postings === undefined) {
        postings = { docs: [], tfs: [] };
        this.terms.set(term, postings);
      }
      postings.docs.push(docIndex);
      postings.tfs.push(tf);
    }
    this.inMemory += counts.size;
    if (this.inMemory >= this.budget) this.flushRun();
  }

  /** Writes the in-memory postings as a sorted run: per term [u32 termBytes][term][u32 n][u32 docs×n][u32 tfs×n]. */
  private flushRun(): void {
    if (this.terms.size === 0) return;
    const file = join(this.dir, `run-${this.runs.length}.tmp`);
    const fd = openSync(file, 'w');
    const writer = new BufferedWriter(fd);
    const sorted = [...this.terms.keys()].sort(compareTerms);
    for (const term of sorted) {
      const postings = this.terms.get(term)!;
      const termBytes = Buffer.from(term, 'utf8');
      writer.u32(termBytes.length);
      writer.bytes(termBytes);
      writer.u32(postings.docs.length);
      writer.u32Array(postings.docs);
      writer.u32Array(postings.tfs);
    }
    writer.flush();
    closeSync(fd);
    this.runs.push(file);
    this.terms = new Map();
    this.inMemory = 0;
  }

  /**
   * Merges the runs into the final files: `lexicon.bin` (per term, sorted: [u16 bytes][term][u32 df]
   * [f64 offset]), `postings.bin` (per term: u32 doc indices × df, then u32 term frequencies × df),
   * `doclens.u32` and `bm25.json`. Returns the statistics.
   */
  finish(): { documents: number; terms: number; postings: number } {
    this.flushRun();
    const readers = this.runs.map((file) => new RunReader(file));
    const lexiconFd = openSync(join(this.dir, FILES.lexicon), 'w');
    const postingsFd = openSync(join(this.dir, FILES.postings), 'w');
    const lexicon = new BufferedWriter(lexiconFd);
    const postingsOut = new BufferedWriter(postingsFd);
    let termCount = 0;
    let postingCount = 0;
    let offset = 0;
    for (;;) {
      let smallest: string | undefined;
      for (const reader of readers) {
        const term = reader.currentTerm;
        if (term !== undefined && (smallest === undefined || compareTerms(term, smallest) < 0))
          smallest = term;
      }
      if (smallest === undefined) break;
      const parts: { docs: Uint32Array; tfs: Uint32Array }[] = [];
      let df = 0;
      for (const reader of readers) {
        if (reader.currentTerm === smallest) {
          const part = reader.take();
          parts.push(part);
          df += part.docs.length;
        }
      }
      const termBytes = Buffer.from(smallest, 'utf8');
      lexicon.u16(termBytes.length);
      lexicon.bytes(termBytes);
      lexicon.u32(df);
      lexicon.f64(offset);
      for (const part of parts) postingsOut.typed(part.docs);
      for (const part of parts) postingsOut.typed(part.tfs);
      offset += df * 8;
      termCount++;
      postingCount += df;
    }
    lexicon.flush();
    postingsOut.flush();
    closeSync(lexiconFd);
    closeSync(postingsFd);
    for (const reader of readers) reader.close();
    for (const file of this.runs) rmSync(file);
    const lengths = this.lengths.subarray(0, this.documents);
    writeFileSync(
      join(this.dir, FILES.lengths),
      new Uint8Array(lengths.buffer, lengths.byteOffset, lengths.byteLength),
    );
    const meta: Bm25Meta = {
      format: 'sr1-bm25',
      version: 1,
      k1: this.parameters.k1,
      b: this.parameters.b,
      documents: this.documents,
      terms: termCount,
      postings: postingCount,
      averageLength: this.documents === 0 ? 0 : this.totalLength / this.documents,
    };
    writeFileSync(join(this.dir, FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
    return { documents: this.documents, terms: termCount, postings: postingCount };
  }
}

/** Byte-wise (code unit) order, the same in the runs and in the merge. */
function compareTerms(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Buffered little-endian writer over a file descriptor. */
class BufferedWriter {
  private readonly fd: number;
  private buffer = Buffer.allocUnsafe(1 << 20);
  private position = 0;
  constructor(fd: number) {
    this.fd = fd;
  }
  private reserve(bytes: number): void {
    if (this.position + bytes <= this.buffer.length) return;
    this.flush();
    if (bytes > this.buffer.length) this.buffer = Buffer.allocUnsafe(bytes);
  }
  u16(value: number): void {
    this.reserve(2);
    this.position = this.buffer.writeUInt16LE(value, this.position);
  }
  u32(value: number): void {
    this.reserve(4);
    this.position = this.buffer.writeUInt32LE(value, this.position);
  }
  f64(value: number): void {
    this.reserve(8);
    this.position = this.buffer.writeDoubleLE(value, this.position);
  }
  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.position);
    this.position += bytes.length;
  }
  u32Array(values: readonly number[]): void {
    this.reserve(values.length * 4);
    for (const value of values) this.position = this.buffer.writeUInt32LE(value, this.position);
  }
  typed(values: Uint32Array): void {
    this.bytes(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
  flush(): void {
    if (this.position > 0) writeSync(this.fd, this.buffer, 0, this.position);
    this.position = 0;
  }
}

/** Sequential reader of one SPIMI run file. */
class RunReader {
  private readonly fd: number;
  private filePosition = 0;
  private readonly fileSize: number;
  currentTerm: string | undefined;
  private currentCount = 0;

  constructor(file: string) {
    this.fd = openSync(file, 'r');
    this.fileSize = statSync(file).size;
    this.advance();
  }

  private read(bytes: number): Buffer {
    const buffer = Buffer.allocUnsafeSlow(bytes);
    const got = readSync(this.fd, buffer, 0, bytes, this.filePosition);
    if (got !== bytes)
      throw new RetrieverInvariantError(`truncated BM25 run: wanted ${bytes} bytes at ${this.filePosition}`);
    this.filePosition += bytes;
    return buffer;
  }

  private advance(): void {
    if (this.filePosition >= this.fileSize) {
      this.currentTerm = undefined;
      return;
    }
    const termLength = this.read(4).readUInt32LE(0);
    this.currentTerm = this.read(termLength).toString('utf8');
    this.currentCount = this.read(4).readUInt32LE(0);
  }

  take(): { docs: Uint32Array; tfs: Uint32Array } {
    const body = this.read(this.currentCount * 8);
    const docs = new Uint32Array(body.buffer, body.byteOffset, this.currentCount);
    const tfs = new Uint32Array(body.buffer, body.byteOffset + this.currentCount * 4, this.currentCount);
    this.advance();
    return { docs, tfs };
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Options when opening a BM25 index. */
export interface Bm25LoadOptions {
  /** Read the whole postings file into memory (default: when it is at most 1 GiB); else read per term from disk. */
  postingsInMemory?: boolean;
}

/** A loaded BM25 index; `search` is synchronous and reuses one score accumulator. */
export class Bm25Index {
  readonly parameters: Bm25Parameters;
  /** Number of documents. */
  readonly documents: number;
  /** Number of distinct terms. */
  readonly terms: number;
  readonly averageLength: number;
  private readonly lexicon: Map<string, number>;
  private readonly dfs: Uint32Array;
  private readonly offsets: Float64Array;
  /** k1 · (1 − b + b · dl/avgdl) per document, precomputed at load. */
  private readonly lengthNorms: Float32Array;
  private readonly postingsFd: number | undefined;
  private readonly postings: Buffer | undefined;
  private readonly accumulator: Float32Array;
  private readonly touched: Uint32Array;

  private constructor(dir: string, options: Bm25LoadOptions) {
    const corrupt = (file: string, reason: string) =>
      new IndexCorruptError(dirname(dir), join(dir, file), reason);
    let meta: Bm25Meta;
    try {
      meta = JSON.parse(readFileSync(join(dir, FILES.meta), 'utf8')) as Bm25Meta;
    } catch (error) {
      throw corrupt(FILES.meta, `not valid JSON (${(error as Error).message})`);
    }
    if (meta.format !== 'sr1-bm25' || meta.version !== 1) {
      throw corrupt(
        FILES.meta,
        `not an sr1 BM25 index (format ${String(meta.format)} v${String(meta.version)})`,
      );
    }
    for (const field of ['documents', 'terms', 'postings'] as const) {
      if (!Number.isSafeInteger(meta[field]) || meta[field] < 0)
        throw corrupt(FILES.meta, `field '${field}' is ${String(meta[field])}, expected a count`);
    }
    this.parameters = { k1: meta.k1, b: meta.b };
    this.documents = meta.documents;
    this.terms = meta.terms;
    this.averageLength = meta.averageLength;
    this.lexicon = new Map();
    this.dfs = new Uint32Array(meta.terms);
    this.offsets = new Float64Array(meta.terms);
    // The lexicon is checked entry by entry: each term's postings must start where the previous
    // one's ended, so the offsets, the counts and the postings file's size all agree.
    const lexicon = readFileSync(join(dir, FILES.lexicon));
    let position = 0;
    let expectedOffset = 0;
    let postingCount = 0;
    for (let termIndex = 0; termIndex < meta.terms; termIndex++) {
      if (position + 2 > lexicon.length)
        throw corrupt(
          FILES.lexicon,
          `truncated at term ${termIndex} of ${meta.terms} (${lexicon.length} bytes)`,
        );
      const length = lexicon.readUInt16LE(position);
      position += 2;
      if (position + length + 12 > lexicon.length)
        throw corrupt(
          FILES.lexicon,
          `truncated at term ${termIndex} of ${meta.terms} (${lexicon.length} bytes)`,
        );
      this.lexicon.set(lexicon.toString('utf8', position, position + length), termIndex);
      position += length;
      const df = lexicon.readUInt32LE(position);
      const offset = lexicon.readDoubleLE(position + 4);
      if (df < 1 || df > meta.documents || offset !== expectedOffset)
        throw corrupt(
          FILES.lexicon,
          `entry ${termIndex} is damaged (df ${df}, offset ${offset}, expected offset ${expectedOffset})`,
        );
      this.dfs[termIndex] = df;
      this.offsets[termIndex] = offset;
      expectedOffset += df * 8;
      postingCount += df;
      position += 12;
    }
    if (position !== lexicon.length)
      throw corrupt(FILES.lexicon, `${lexicon.length - position} unexpected bytes after ${meta.terms} terms`);
    if (postingCount !== meta.postings)
      throw corrupt(FILES.lexicon, `holds ${postingCount} postings, ${FILES.meta} says ${meta.postings}`);
    const lengthsRaw = readFileSync(join(dir, FILES.lengths));
    if (lengthsRaw.length !== meta.documents * 4) {
      throw corrupt(FILES.lengths, `holds ${lengthsRaw.length / 4} lengths, expected ${meta.documents}`);
    }
    this.lengthNorms = new Float32Array(meta.documents);
    const { k1, b } = this.parameters;
    const average = meta.averageLength > 0 ? meta.averageLength : 1;
    for (let doc = 0; doc < meta.documents; doc++) {
      this.lengthNorms[doc] = k1 * (1 - b + (b * lengthsRaw.readUInt32LE(doc * 4)) / average);
    }
    const postingsFile = join(dir, FILES.postings);
    const postingsBytes = statSync(postingsFile).size;
    if (postingsBytes !== expectedOffset)
      throw corrupt(
        FILES.postings,
        `${postingsBytes} bytes, the lexicon's ${meta.postings} postings need ${expectedOffset}`,
      );
    const inMemory = options.postingsInMemory ?? postingsBytes <= 1 << 30;
    if (inMemory) {
      const raw = readFileSync(postingsFile);
      // Copy into a fresh aligned buffer so Uint32Array views need no copy per query.
      this.postings = Buffer.allocUnsafeSlow(raw.length);
      raw.copy(this.postings);
    } else {
      this.postingsFd = openSync(postingsFile, 'r');
    }
    this.accumulator = new Float32Array(meta.documents);
    this.touched = new Uint32Array(meta.documents);
  }

  /** Opens the BM25 index in `dir`. */
  static load(dir: string, options: Bm25LoadOptions = {}): Bm25Index {
    if (!existsSync(join(dir, FILES.meta)))
      throw new IndexCorruptError(dirname(dir), join(dir, FILES.meta), 'missing');
    return new Bm25Index(dir, options);
  }

  /** Lucene's BM25 idf. */
  idf(df: number): number {
    return Math.log(1 + (this.documents - df + 0.5) / (df + 0.5));
  }

  private postingsOf(termIndex: number): { docs: Uint32Array; tfs: Uint32Array } {
    const df = this.dfs[termIndex]!;
    const offset = this.offsets[termIndex]!;
    let buffer: Buffer;
    let start: number;
    if (this.postings !== undefined) {
      buffer = this.postings;
      start = offset;
    } else {
      buffer = Buffer.allocUnsafeSlow(df * 8);
      readSync(this.postingsFd!, buffer, 0, df * 8, offset);
      start = 0;
    }
    return {
      docs: new Uint32Array(buffer.buffer, buffer.byteOffset + start, df),
      tfs: new Uint32Array(buffer.buffer, buffer.byteOffset + start + df * 4, df),
    };
  }

  /** Top-`k` documents for one query text, best first (ties by lower index). Empty when no term matches. */
  search(query: string, k: number): ScoredIndex[] {
    const queryCounts = new Map<string, number>();
    for (const term of analyze(query)) queryCounts.set(term, (queryCounts.get(term) ?? 0) + 1);
    const accumulator = this.accumulator;
    const touched = this.touched;
    const norms = this.lengthNorms;
    let touchedCount = 0;
    for (const [term, queryTf] of queryCounts) {
      const termIndex = this.lexicon.get(term);
      if (termIndex === undefined) continue;
      const weight = queryTf * this.idf(this.dfs[termIndex]!);
      const { docs, tfs } = this.postingsOf(termIndex);
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i]!;
        const tf = tfs[i]!;
        if (accumulator[doc] === 0) touched[touchedCount++] = doc;
        accumulator[doc]! += (weight * tf) / (tf + norms[doc]!);
      }
    }
    const top = new TopK(k);
    for (let i = 0; i < touchedCount; i++) {
      const doc = touched[i]!;
      const score = accumulator[doc]!;
      accumulator[doc] = 0;
      if (score > top.threshold() || score === top.threshold()) top.push(doc, score);
    }
    return top.sorted();
  }

  /** Bytes held in memory by this index (lexicon estimate, per-document norms, postings if in memory). */
  memoryBytes(): { perDocument: number; lexiconEstimate: number; postings: number } {
    return {
      perDocument: this.lengthNorms.byteLength + this.accumulator.byteLength + this.touched.byteLength,
      lexiconEstimate: this.terms * (12 + 64),
      postings: this.postings?.length ?? 0,
    };
  }

  close(): void {
    if (this.postingsFd !== undefined) closeSync(this.postingsFd);
  }
}
