// `ingest`: a folder of your own documents (Markdown, HTML, PDF, text, JSONL) → an ordinary index
// folder. Files are parsed and cut into ~100-word passages with stable ids and their sources; the
// manifest records each file's sha256 so a re-ingest parses only new and changed files, drops
// deleted ones, and carries unchanged files' passages over from the previous index.

import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve, sep } from 'node:path';
import { InvalidInputError, MissingDependencyError } from '@sr1/core';
import { DOC_STORE_FILES, DocStore } from '../corpus.js';
import { RetrieverInvariantError } from '../errors.js';
import {
  buildIndex,
  type EncoderSpec,
  type IndexKind,
  type IndexManifest,
  readManifest,
} from '../index-folder.js';
import { CHUNK_DEFAULTS, type ChunkOptions, chunkDocument, layoutDocument } from './chunk.js';
import { IngestFileError } from './errors.js';
import { type DocumentFormat, formatOf, parseDocument } from './parse.js';
import { encodeLines, INGEST_FILES, type IngestedDocument, type PassageSource } from './sources.js';

/** What the manifest records about an ingest (its `ingest` field). */
export interface IngestRecord {
  /** Bumped when parsing or chunking changes, so a re-ingest re-parses every file. */
  version: typeof INGEST_VERSION;
  /** The documents folder, absolute. */
  docs: string;
  chunking: ChunkOptions;
  /** Every ingested file, in index order, with its sha256 and what it gave. */
  files: IngestedFile[];
  /** Files that were not ingested, and why. */
  skipped: SkippedFile[];
}

export interface IngestedFile {
  path: string;
  sha256: string;
  bytes: number;
  format: DocumentFormat;
  documents: number;
  passages: number;
}

export interface SkippedFile {
  path: string;
  reason: string;
}

export const INGEST_VERSION = 1;

/** Options of `ingestFolder`. */
export interface IngestOptions {
  /** Folder of documents, read recursively (hidden files and folders are ignored). */
  docs: string;
  /** Index folder to write (an existing ingested index there is the base of an incremental re-ingest). */
  out: string;
  kind: IndexKind;
  encoder?: EncoderSpec;
  chunking?: Partial<ChunkOptions>;
  /** Replace an `--out` folder that is not an index (as `buildIndex`'s `force`). */
  force?: boolean;
  /** Called after each file: its path, what happened to it, and how many files are done. */
  onFile?: (event: {
    path: string;
    status: 'parsed' | 'unchanged' | 'skipped';
    done: number;
    total: number;
  }) => void;
}

/** What an ingest did: the end-of-run summary. */
export interface IngestSummary {
  /** Files ingested (parsed now or carried over unchanged). */
  files: number;
  documents: number;
  passages: number;
  /** Files parsed in this run (new or changed). */
  parsed: string[];
  /** Files carried over from the previous index without being read again. */
  unchanged: string[];
  /** Files of the previous index that are gone from the folder, and so from the index. */
  removed: string[];
  skipped: SkippedFile[];
  /** Dense and hybrid kinds: passage vectors taken from the previous index, and encoded now. */
  vectors: { reused: number; encoded: number } | null;
  manifest: IndexManifest;
}

interface FilePassages {
  file: IngestedFile;
  documents: IngestedDocument[];
  /** Per passage: id, contents, source, and its document's position within `documents`. */
  passages: { id: string; contents: string; source: PassageSource; document: number }[];
}

/** Relative `/`-separated paths of the regular files under `root`, sorted; hidden entries ignored. */
function listFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.push(relative(root, full).split(sep).join('/'));
    }
  };
  walk(root);
  return files.sort();
}

/** A passage id stable across re-ingests of the same content: path, record, position and a content hash. */
export function passageId(path: string, part: string, position: number, text: string): string {
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8);
  return `${path}${part.length > 0 ? `:${part.replace(/^line:/, '')}` : ''}#${position}-${hash}`;
}

/** Parses one file into its documents and passages. */
async function ingestFile(
  path: string,
  bytes: Uint8Array,
  sha256: string,
  format: DocumentFormat,
  chunking: ChunkOptions,
): Promise<FilePassages> {
  const parsed = await parseDocument(path, bytes, format);
  const documents: IngestedDocument[] = [];
  const passages: FilePassages['passages'] = [];
  for (const document of parsed) {
    const layout = layoutDocument(document);
    const chunks = chunkDocument(layout, chunking);
    if (chunks.length === 0) continue;
    const line = document.part.startsWith('line:') ? Number(document.part.slice(5)) : undefined;
    documents.push({ path, part: document.part, title: document.title, format, text: layout.text });
    chunks.forEach((chunk, position) => {
      // The title line names the section too: it is what the agent sees as "Doc k (Title: …)".
      const headings =
        chunk.headingPath[0] === document.title ? chunk.headingPath.slice(1) : chunk.headingPath;
      const titleLine = [document.title, ...headings].join(' › ');
      passages.push({
        id: passageId(path, document.part, position, chunk.text),
        contents: `"${titleLine}"\n${chunk.text}`,
        source: {
          path,
          title: document.title,
          headingPath: chunk.headingPath,
          start: chunk.start,
          end: chunk.end,
          ...(chunk.page !== undefined ? { page: chunk.page } : {}),
          ...(line !== undefined ? { line } : {}),
        },
        document: documents.length - 1,
      });
    });
  }
  if (passages.length === 0) throw new IngestFileError(path, 'no text to index');
  return {
    file: {
      path,
      sha256,
      bytes: bytes.length,
      format,
      documents: documents.length,
      passages: passages.length,
    },
    documents,
    passages,
  };
}

/** The files of a previous ingest into `out`, with their passages, when it can be reused as is. */
function previousIngest(out: string, chunking: ChunkOptions): Map<string, FilePassages> {
  const reusable = new Map<string, FilePassages>();
  let manifest: IndexManifest;
  try {
    manifest = readManifest(out);
  } catch {
    return reusable; // no index there (or a damaged one): everything is parsed
  }
  const record = manifest.ingest;
  if (
    record === undefined ||
    record === null ||
    record.version !== INGEST_VERSION ||
    record.chunking.targetWords !== chunking.targetWords ||
    record.chunking.overlapWords !== chunking.overlapWords
  ) {
    return reusable;
  }
  let docs: DocStore | undefined;
  let sources: DocStore | undefined;
  let documents: DocStore | undefined;
  try {
    docs = DocStore.open(join(out, DOC_STORE_FILES.docs), join(out, DOC_STORE_FILES.offsets), false);
    sources = DocStore.open(join(out, INGEST_FILES.sources), join(out, INGEST_FILES.sourceOffsets), false);
    documents = DocStore.open(
      join(out, INGEST_FILES.documents),
      join(out, INGEST_FILES.documentOffsets),
      false,
    );
    const raw = readFileSync(join(out, INGEST_FILES.passageDocuments));
    const passageDocuments = new Uint32Array(raw.length / 4);
    new Uint8Array(passageDocuments.buffer).set(raw);
    let passage = 0;
    let document = 0;
    for (const file of record.files) {
      const entry: FilePassages = { file, documents: [], passages: [] };
      const firstDocument = document;
      for (let d = 0; d < file.documents; d++) {
        entry.documents.push(JSON.parse(documents.rawJson(document++)) as IngestedDocument);
      }
      for (let p = 0; p < file.passages; p++) {
        const stored = docs.get(passage);
        const source = JSON.parse(sources.rawJson(passage)) as PassageSource;
        if (source.path !== file.path)
          throw new RetrieverInvariantError(
            `passage ${passage} is from ${source.path}, expected ${file.path}`,
          );
        entry.passages.push({ ...stored, source, document: passageDocuments[passage]! - firstDocument });
        passage++;
      }
      reusable.set(file.path, entry);
    }
    if (passage !== docs.size)
      throw new RetrieverInvariantError(`${passage} passages in the record, ${docs.size} in the store`);
  } catch {
    reusable.clear(); // an inconsistent previous index: parse everything again
  } finally {
    docs?.close();
    sources?.close();
    documents?.close();
  }
  return reusable;
}

/** The previous index's passage vectors, by a hash of each passage's contents, for reuse. */
interface PreviousVectors {
  encoderId: string;
  dimension: number;
  /** Open file descriptor of its `dense/vectors.f32` (row i = passage i), closed by the caller. */
  fd: number;
  rowOf: Map<string, number>;
}

const contentsKey = (contents: string) => createHash('sha256').update(contents).digest('base64');

/** The vectors of a previous dense or hybrid index in `out`, when it has them and they are whole. */
function previousVectors(out: string): PreviousVectors | undefined {
  let manifest: IndexManifest;
  try {
    manifest = readManifest(out);
  } catch {
    return undefined;
  }
  if (manifest.dense === null || manifest.dense === undefined) return undefined;
  const { id: encoderId, dimension } = manifest.dense.encoder;
  const file = join(out, 'dense', 'vectors.f32'); // index-folder's layout: n × dimension float32
  let docs: DocStore | undefined;
  let fd: number | undefined;
  try {
    docs = DocStore.open(join(out, DOC_STORE_FILES.docs), join(out, DOC_STORE_FILES.offsets), false);
    if (statSync(file).size !== docs.size * dimension * 4) return undefined;
    const rowOf = new Map<string, number>();
    for (let row = 0; row < docs.size; row++) rowOf.set(contentsKey(docs.get(row).contents), row);
    fd = openSync(file, 'r');
    return { encoderId, dimension, fd, rowOf };
  } catch {
    if (fd !== undefined) closeSync(fd);
    return undefined; // unreadable: everything is encoded again
  } finally {
    docs?.close();
  }
}

/**
 * Ingests a documents folder into an index folder. Unreadable or unparsable files are skipped and
 * reported (never silently); the build itself is `buildIndex`'s, atomic like every index build.
 */
export async function ingestFolder(options: IngestOptions): Promise<IngestSummary> {
  const root = resolve(options.docs);
  let rootStat: ReturnType<typeof statSync>;
  try {
    rootStat = statSync(root);
  } catch {
    throw new InvalidInputError({ field: 'docs', reason: `${options.docs} does not exist` });
  }
  if (!rootStat.isDirectory()) {
    throw new InvalidInputError({ field: 'docs', reason: `${options.docs} is not a folder` });
  }
  const chunking: ChunkOptions = { ...CHUNK_DEFAULTS, ...options.chunking };
  if (!Number.isInteger(chunking.targetWords) || chunking.targetWords < 1) {
    throw new InvalidInputError({
      field: 'chunking.targetWords',
      reason: `expected a positive integer, got ${chunking.targetWords}`,
    });
  }
  if (
    !Number.isInteger(chunking.overlapWords) ||
    chunking.overlapWords < 0 ||
    chunking.overlapWords >= chunking.targetWords
  ) {
    throw new InvalidInputError({
      field: 'chunking.overlapWords',
      reason: `expected an integer in [0, ${chunking.targetWords}), got ${chunking.overlapWords}`,
    });
  }
  const out = resolve(options.out);
  if (out === root || out.startsWith(`${root}${sep}`)) {
    throw new InvalidInputError({
      field: 'out',
      reason: `${options.out} is inside the documents folder ${options.docs}`,
    });
  }
  const previous = previousIngest(out, chunking);

  const paths = listFiles(root);
  const kept: FilePassages[] = [];
  const summary: Omit<IngestSummary, 'manifest' | 'files' | 'documents' | 'passages' | 'vectors'> = {
    parsed: [],
    unchanged: [],
    removed: [],
    skipped: [],
  };
  let done = 0;
  for (const path of paths) {
    let status: 'parsed' | 'unchanged' | 'skipped' = 'skipped';
    const format = formatOf(path);
    if (format === undefined) {
      summary.skipped.push({
        path,
        reason: `unsupported format (${extensionOf(path)}); supported: .md .html .pdf .txt .jsonl`,
      });
    } else {
      try {
        const bytes = readFileSync(join(root, path));
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const old = previous.get(path);
        if (old !== undefined && old.file.sha256 === sha256) {
          kept.push(old);
          summary.unchanged.push(path);
          status = 'unchanged';
        } else {
          kept.push(await ingestFile(path, bytes, sha256, format, chunking));
          summary.parsed.push(path);
          status = 'parsed';
        }
      } catch (error) {
        // A missing parser package is not this file's fault: it stops the run, naming what to install.
        if (error instanceof MissingDependencyError) throw error;
        summary.skipped.push({ path, reason: reasonOf(error) });
      }
    }
    options.onFile?.({ path, status, done: ++done, total: paths.length });
  }
  const present = new Set(kept.map((entry) => entry.file.path));
  summary.removed = [...previous.keys()].filter((path) => !present.has(path));

  const passages = kept.reduce((sum, entry) => sum + entry.passages.length, 0);
  if (passages === 0) {
    throw new InvalidInputError({
      field: 'docs',
      reason: `no passages to index: ${paths.length} files found, ${summary.skipped.length} skipped${summary.skipped.length > 0 ? ` (${summary.skipped.map((skip) => `${skip.path}: ${skip.reason}`).join('; ')})` : ''}`,
    });
  }

  // The corpus goes through the ordinary index build; the sources ride along as extra index files.
  const vectors = previousVectors(out);
  const staging = mkdtempSync(join(tmpdir(), 'sr1-ingest-'));
  let vectorsReused = 0;
  // A passage whose text the previous index has keeps its vector when the encoder is the same
  // (its id names the model, or the hashing encoder's IDF table): only new text is encoded.
  const knownVectors =
    vectors === undefined
      ? undefined
      : (encoderId: string, contents: readonly string[]) =>
          contents.map((text) => {
            const row = encoderId === vectors.encoderId ? vectors.rowOf.get(contentsKey(text)) : undefined;
            if (row === undefined) return undefined;
            const vector = new Float32Array(vectors.dimension);
            readSync(
              vectors.fd,
              new Uint8Array(vector.buffer),
              0,
              vector.byteLength,
              row * vector.byteLength,
            );
            vectorsReused++;
            return vector;
          });
  try {
    const corpusLines: string[] = [];
    const sourceLines: string[] = [];
    const documentLines: string[] = [];
    const passageDocuments = new Uint32Array(passages);
    for (const entry of kept) {
      const firstDocument = documentLines.length;
      for (const document of entry.documents) documentLines.push(JSON.stringify(document));
      for (const passage of entry.passages) {
        passageDocuments[corpusLines.length] = firstDocument + passage.document;
        corpusLines.push(JSON.stringify({ id: passage.id, contents: passage.contents }));
        sourceLines.push(JSON.stringify(passage.source));
      }
    }
    const corpus = join(staging, 'corpus.jsonl');
    writeFileSync(corpus, `${corpusLines.join('\n')}\n`);
    const sources = encodeLines(sourceLines);
    const documents = encodeLines(documentLines);
    const record: IngestRecord = {
      version: INGEST_VERSION,
      docs: root,
      chunking,
      files: kept.map((entry) => entry.file),
      skipped: summary.skipped,
    };
    const manifest = await buildIndex({
      corpus,
      out,
      kind: options.kind,
      ...(options.encoder !== undefined ? { encoder: options.encoder } : {}),
      ...(options.force !== undefined ? { force: options.force } : {}),
      ingest: record,
      ...(knownVectors !== undefined ? { knownVectors } : {}),
      extraFiles: {
        [INGEST_FILES.sources]: sources.data,
        [INGEST_FILES.sourceOffsets]: sources.offsets,
        [INGEST_FILES.documents]: documents.data,
        [INGEST_FILES.documentOffsets]: documents.offsets,
        [INGEST_FILES.passageDocuments]: Buffer.from(passageDocuments.buffer),
      },
    });
    return {
      ...summary,
      files: kept.length,
      documents: documentLines.length,
      passages,
      vectors: manifest.dense === null ? null : { reused: vectorsReused, encoded: passages - vectorsReused },
      manifest,
    };
  } finally {
    if (vectors !== undefined) closeSync(vectors.fd);
    rmSync(staging, { recursive: true, force: true });
  }
}

function extensionOf(path: string): string {
  const base = path.split('/').pop() ?? path;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot) : 'no extension';
}

function reasonOf(error: unknown): string {
  if (error instanceof IngestFileError)
    return error.line !== undefined ? `line ${error.line}: ${error.reason}` : error.reason;
  const system = error as { code?: unknown; message?: unknown };
  if (typeof system.code === 'string') {
    const what: Record<string, string> = {
      EACCES: 'permission denied',
      ENOENT: 'no such file (a broken link?)',
      EISDIR: 'is a directory',
    };
    return `unreadable: ${what[system.code] ?? system.code}`;
  }
  return `unreadable: ${String(system.message ?? error)}`;
}
