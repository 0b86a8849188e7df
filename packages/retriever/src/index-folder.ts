// The index folder: everything a server needs, built in one pass over a corpus and described by a
// manifest (corpus checksum, encoder id, dimension, parameters, counts). Loading checks every part
// against the manifest and refuses a mismatch instead of serving wrong passages.
//
// Layout: manifest.json · docs.jsonl + docs.offsets (document store) · bm25/ (BM25 index) ·
// dense/vectors.f32 (n × dimension float32) · dense/hnsw.bin · dense/hashing-idf.f32 (hashing only)

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import {
  Bm25Builder,
  type Bm25BuildOptions,
  Bm25Index,
  type Bm25Parameters,
  DEFAULT_BM25_PARAMETERS,
} from './bm25.js';
import {
  type CorpusDigest,
  type CorpusReport,
  DOC_STORE_FILES,
  DocStore,
  DocStoreWriter,
  type DuplicateIdPolicy,
  type InvalidUtf8Policy,
  readCorpus,
  sha256File,
} from './corpus.js';
import type { Encoder } from './encoder.js';
import {
  EmptyCorpusError,
  IndexCorruptError,
  IndexMismatchError,
  RetrieverInputError,
  RetrieverInvariantError,
} from './errors.js';
import { HASHING_DEFAULTS, HashingEncoder, HashingIdfFitter } from './hashing-encoder.js';
import { RRF_DEFAULTS, reciprocalRankFusion } from './hybrid.js';
import type { IngestRecord } from './ingest/ingest.js';
import { ONNX_ENCODER_DEFAULTS, OnnxEncoder, type OnnxEncoderOptions } from './onnx-encoder.js';
import type { ScoredIndex } from './top-k.js';
import {
  DEFAULT_HNSW_PARAMETERS,
  FlatIndex,
  HnswIndex,
  type HnswParameters,
  type VectorIndex,
} from './vector-index.js';

/** What an index folder can search with. */
export type IndexKind = 'bm25' | 'dense' | 'hybrid';
/** How one search is answered; `hybrid` needs both parts. */
export type SearchMethod = 'bm25' | 'dense' | 'hybrid';

/** Which dense encoder to build with. */
export type EncoderSpec = { type: 'hashing'; dimension?: number } | ({ type: 'onnx' } & OnnxEncoderOptions);

/** The manifest written as `manifest.json`. */
export interface IndexManifest {
  format: 'sr1-retriever-index';
  version: 1;
  kind: IndexKind;
  createdAt: string;
  corpus: {
    file: string;
    sha256: string;
    bytes: number;
    passages: number;
    ordinalIds: boolean;
    /** What the build skipped or repaired under `duplicateIds` / `invalidUtf8` (absent when nothing). */
    report?: CorpusReport;
  };
  bm25: (Bm25Parameters & { terms: number; postings: number }) | null;
  dense: {
    encoder:
      | { type: 'hashing'; id: string; dimension: number }
      | {
          type: 'onnx';
          id: string;
          dimension: number;
          modelDir: string;
          queryPrefix: string;
          passagePrefix: string;
          maxLength: number;
        };
    hnsw: HnswParameters;
    vectors: number;
  } | null;
  hybrid: { method: 'rrf'; k: number; depth: number } | null;
  /** Size and sha256 of every file of the folder but the manifest, checked at load (absent in older indexes). */
  files?: Record<string, IndexFileEntry>;
  /** Present when the index was made by `ingest`: the documents folder, chunking, each file's sha256. */
  ingest?: IngestRecord;
}

/** One file of an index folder as the manifest records it. */
export interface IndexFileEntry {
  bytes: number;
  sha256: string;
}

/** Progress of a build: phase, units done, units in total. */
export interface BuildProgress {
  phase: 'read' | 'bm25' | 'encode';
  done: number;
  total: number;
}

/** Options of `buildIndex`. */
export interface BuildIndexOptions {
  /** Search-R1 JSONL corpus. */
  corpus: string;
  /** Output folder (created; an existing index there is replaced, any other non-empty folder is refused). */
  out: string;
  kind: IndexKind;
  /** Dense encoder (dense and hybrid kinds); default: the hashing encoder. */
  encoder?: EncoderSpec;
  bm25?: Bm25BuildOptions;
  hnsw?: Partial<HnswParameters>;
  /** Passages per encoder call while building. */
  encodeBatchSize?: number;
  onProgress?: (progress: BuildProgress) => void;
  /** Recorded as the manifest's `ingest` field (set by `ingestFolder`). */
  ingest?: IngestRecord;
  /** More files of the index (path relative to the folder → bytes), written before the manifest (`ingest`'s sources). */
  extraFiles?: Record<string, Uint8Array>;
  /**
   * Vectors computed before (`ingest` passes the previous index's): given the encoder's id and a
   * batch of passage contents, each one's vector or undefined. Only the rest is encoded.
   */
  knownVectors?: (encoderId: string, contents: readonly string[]) => (Float32Array | undefined)[];
  /** Replace an `out` folder that holds anything besides an sr1 index (default: refuse). */
  force?: boolean;
  /** A passage whose id an earlier one has: `error` (default) or `skip` (kept first, reported in the manifest). */
  duplicateIds?: DuplicateIdPolicy;
  /** A corpus line that is not UTF-8: `error` (default), `replace` (U+FFFD) or `skip`; reported in the manifest. */
  invalidUtf8?: InvalidUtf8Policy;
}

const MANIFEST = 'manifest.json';
const DENSE_FILES = {
  vectors: 'dense/vectors.f32',
  hnsw: 'dense/hnsw.bin',
  idf: 'dense/hashing-idf.f32',
} as const;

/** Builds an index folder from a corpus; returns the manifest it wrote. */
export async function buildIndex(options: BuildIndexOptions): Promise<IndexManifest> {
  const target = resolve(options.out);
  const kind = options.kind;
  if (!['bm25', 'dense', 'hybrid'].includes(kind)) {
    throw new RetrieverInputError('kind', `unknown index kind '${kind}'. Supported: [bm25, dense, hybrid]`);
  }
  const encoderSpec: EncoderSpec = options.encoder ?? { type: 'hashing' };
  if (!existsSync(options.corpus))
    throw new RetrieverInputError('corpus', `${options.corpus} does not exist`);
  checkOutput(target, options.corpus, options.force === true);
  // Load a model before reading anything, so a wrong model folder fails fast.
  const onnx =
    kind !== 'bm25' && encoderSpec.type === 'onnx' ? await OnnxEncoder.load(encoderSpec) : undefined;
  // Built into a temporary folder beside --out and switched in by rename when complete, so the old
  // index stays whole (and servable) if the build fails or is killed.
  const out = startBuild(target);
  let manifest: IndexManifest;
  try {
    manifest = await writeIndex(out, options, onnx);
  } catch (error) {
    rmSync(out, { recursive: true, force: true });
    throw error;
  }
  switchIn(out, target);
  return manifest;
}

/** Writes a complete index into the (new, empty) folder `out`; the manifest last. */
async function writeIndex(
  out: string,
  options: BuildIndexOptions,
  onnx: OnnxEncoder | undefined,
): Promise<IndexManifest> {
  const kind = options.kind;
  const withBm25 = kind !== 'dense';
  const withDense = kind !== 'bm25';
  const encoderSpec: EncoderSpec = options.encoder ?? { type: 'hashing' };
  const progress = options.onProgress;

  // Pass 1: corpus → document store (+ BM25 postings, + hashing IDF statistics).
  const docs = new DocStoreWriter(join(out, DOC_STORE_FILES.docs), join(out, DOC_STORE_FILES.offsets));
  const bm25 = withBm25 ? new Bm25Builder(join(out, 'bm25'), options.bm25) : undefined;
  const fitter = withDense && encoderSpec.type === 'hashing' ? new HashingIdfFitter() : undefined;
  const digest: Partial<CorpusDigest> = {};
  const report: Partial<CorpusReport> = {};
  for await (const passage of readCorpus(options.corpus, {
    digest,
    report,
    ...(options.duplicateIds !== undefined ? { duplicateIds: options.duplicateIds } : {}),
    ...(options.invalidUtf8 !== undefined ? { invalidUtf8: options.invalidUtf8 } : {}),
    onProgress: (read) => progress?.({ phase: 'read', done: read.bytesRead, total: read.totalBytes }),
  })) {
    docs.add(passage);
    bm25?.add(passage.contents);
    fitter?.add(passage.contents);
  }
  const stored = docs.close();
  if (stored.passages === 0) throw new EmptyCorpusError(options.corpus);
  progress?.({ phase: 'bm25', done: 0, total: 1 });
  const bm25Stats = bm25?.finish();
  progress?.({ phase: 'bm25', done: 1, total: 1 });

  // Pass 2: document store → vectors → HNSW.
  let dense: IndexManifest['dense'] = null;
  if (withDense) {
    mkdirSync(join(out, 'dense'), { recursive: true });
    let encoder: Encoder;
    let encoderEntry: NonNullable<IndexManifest['dense']>['encoder'];
    if (encoderSpec.type === 'hashing') {
      const idf = fitter!.finish();
      writeFileSync(join(out, DENSE_FILES.idf), new Uint8Array(idf.buffer));
      const hashing = new HashingEncoder({
        dimension: encoderSpec.dimension ?? HASHING_DEFAULTS.dimension,
        idf,
      });
      encoder = hashing;
      encoderEntry = { type: 'hashing', id: hashing.id, dimension: hashing.dimension };
    } else {
      encoder = onnx!;
      encoderEntry = {
        type: 'onnx',
        id: onnx!.id,
        dimension: onnx!.dimension,
        modelDir: onnx!.modelDir,
        queryPrefix: encoderSpec.queryPrefix ?? ONNX_ENCODER_DEFAULTS.queryPrefix,
        passagePrefix: encoderSpec.passagePrefix ?? ONNX_ENCODER_DEFAULTS.passagePrefix,
        maxLength: encoderSpec.maxLength ?? ONNX_ENCODER_DEFAULTS.maxLength,
      };
    }
    const hnswParameters: HnswParameters = { ...DEFAULT_HNSW_PARAMETERS, ...options.hnsw };
    const store = DocStore.open(
      join(out, DOC_STORE_FILES.docs),
      join(out, DOC_STORE_FILES.offsets),
      stored.ordinalIds,
    );
    const hnsw = HnswIndex.create(encoder.dimension, stored.passages, hnswParameters);
    const vectorsFd = openSync(join(out, DENSE_FILES.vectors), 'w');
    const batchSize = options.encodeBatchSize ?? 256;
    try {
      for (let start = 0; start < stored.passages; start += batchSize) {
        const texts: string[] = [];
        for (let index = start; index < Math.min(start + batchSize, stored.passages); index++) {
          texts.push(store.get(index).contents);
        }
        const vectors = await encodeUnknown(encoder, texts, options.knownVectors);
        writeSync(vectorsFd, new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
        hnsw.addBatch(vectors, start);
        progress?.({ phase: 'encode', done: start + texts.length, total: stored.passages });
      }
    } finally {
      closeSync(vectorsFd);
      store.close();
      await encoder.dispose?.();
    }
    hnsw.save(join(out, DENSE_FILES.hnsw));
    dense = { encoder: encoderEntry, hnsw: hnswParameters, vectors: stored.passages };
  }

  const bm25Parameters = {
    k1: options.bm25?.k1 ?? DEFAULT_BM25_PARAMETERS.k1,
    b: options.bm25?.b ?? DEFAULT_BM25_PARAMETERS.b,
  };
  const manifest: IndexManifest = {
    format: 'sr1-retriever-index',
    version: 1,
    kind,
    createdAt: new Date().toISOString(),
    corpus: {
      file: resolve(options.corpus),
      sha256: digest.sha256!,
      bytes: digest.bytes!,
      passages: stored.passages,
      ordinalIds: stored.ordinalIds,
      ...(report.duplicateIds !== undefined &&
      report.invalidUtf8 !== undefined &&
      (report.duplicateIds.count > 0 || report.invalidUtf8.count > 0)
        ? { report: { duplicateIds: report.duplicateIds, invalidUtf8: report.invalidUtf8 } }
        : {}),
    },
    bm25:
      bm25Stats === undefined
        ? null
        : { ...bm25Parameters, terms: bm25Stats.terms, postings: bm25Stats.postings },
    dense,
    hybrid: kind === 'hybrid' ? { method: 'rrf', k: RRF_DEFAULTS.k, depth: RRF_DEFAULTS.depth } : null,
    ...(options.ingest !== undefined ? { ingest: options.ingest } : {}),
  };
  for (const [path, bytes] of Object.entries(options.extraFiles ?? {})) {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), bytes);
  }
  manifest.files = await describeFiles(out);
  writeFileSync(join(out, `${MANIFEST}.tmp`), `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(join(out, `${MANIFEST}.tmp`), join(out, MANIFEST)); // the manifest appears only when the index is complete
  return manifest;
}

/** Encodes a batch of passages, taking the vectors `known` has instead of encoding them again. */
async function encodeUnknown(
  encoder: Encoder,
  texts: string[],
  known: BuildIndexOptions['knownVectors'],
): Promise<Float32Array> {
  const found = known?.(encoder.id, texts);
  if (found === undefined || found.every((vector) => vector === undefined))
    return encoder.encode(texts, 'passage');
  const dimension = encoder.dimension;
  const missing = texts.filter((_, i) => found[i] === undefined);
  const fresh = missing.length > 0 ? await encoder.encode(missing, 'passage') : new Float32Array(0);
  const vectors = new Float32Array(texts.length * dimension);
  let next = 0; // row of `fresh` for the next text that was not known
  for (let i = 0; i < texts.length; i++) {
    let vector = found[i];
    if (vector === undefined) {
      vector = fresh.subarray(next * dimension, (next + 1) * dimension);
      next++;
    }
    if (vector.length !== dimension) {
      throw new RetrieverInvariantError(
        `a known vector has ${vector.length} values; the encoder's dimension is ${dimension}`,
      );
    }
    vectors.set(vector, i * dimension);
  }
  return vectors;
}

/** Top-level entries an index folder may hold; anything else is the user's and needs --force. */
const INDEX_ENTRIES = new Set([
  MANIFEST,
  `${MANIFEST}.tmp`,
  ...Object.values(DOC_STORE_FILES),
  'bm25',
  'dense',
  'ingest',
]);
const BUILD_MARK = '.sr1-build-'; // `.NAME.sr1-build-PID-RANDOM`: a build in progress beside NAME
const OLD_MARK = '.sr1-old-'; // `.NAME.sr1-old-PID-RANDOM`: the previous index during the switch

/**
 * Refuses an `--out` that is a file, a folder holding anything that is not an sr1 index (unless
 * `force`), and a corpus inside `--out` that the switch would delete (even with `force`; the
 * index's own docs.jsonl is fine: the new index holds the same passages).
 */
function checkOutput(out: string, corpus: string, force: boolean): void {
  if (!existsSync(out)) return;
  if (!statSync(out).isDirectory())
    throw new RetrieverInputError('out', `${out} is a file; --out names the index folder to write`);
  const entries = readdirSync(out);
  const isIndex = entries.includes(MANIFEST);
  const foreign = entries.filter((entry) => !INDEX_ENTRIES.has(entry));
  const realOut = realpathSync(out);
  const realCorpus = realpathSync(corpus);
  if (
    realCorpus.startsWith(`${realOut}${sep}`) &&
    !(isIndex && realCorpus === join(realOut, DOC_STORE_FILES.docs))
  ) {
    throw new RetrieverInputError(
      'corpus',
      `${corpus} is inside --out ${out}, which the build replaces; move the corpus out of it first`,
    );
  }
  if (force || entries.length === 0) return;
  if (!isIndex || foreign.length > 0) {
    const listed = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, … (${foreign.length})` : '');
    throw new RetrieverInputError(
      'out',
      `${out} ${isIndex ? 'holds files that are not part of an sr1 index' : 'exists and holds no sr1 index'} (${listed}); refusing to replace it without --force`,
    );
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cleans what killed builds of `target` left beside it (a previous index half-way through the
 * switch is put back), then makes the temporary folder of this build.
 */
function startBuild(target: string): string {
  const parent = dirname(target);
  const name = basename(target);
  mkdirSync(parent, { recursive: true });
  for (const entry of readdirSync(parent)) {
    if (!entry.startsWith(`.${name}.`)) continue;
    const mark = entry.slice(name.length + 1);
    if (!mark.startsWith(BUILD_MARK) && !mark.startsWith(OLD_MARK)) continue;
    const pid = Number(
      mark.slice(mark.startsWith(BUILD_MARK) ? BUILD_MARK.length : OLD_MARK.length).split('-')[0],
    );
    if (Number.isInteger(pid) && processAlive(pid)) {
      throw new RetrieverInputError(
        'out',
        `another build (pid ${pid}) is writing ${target}; wait for it to finish`,
      );
    }
    const path = join(parent, entry);
    if (mark.startsWith(OLD_MARK) && !existsSync(target))
      renameSync(path, target); // killed mid-switch
    else rmSync(path, { recursive: true, force: true });
  }
  const temp = join(parent, `.${name}${BUILD_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(temp);
  return temp;
}

/** Puts the complete index `built` in place of `target`: two renames, then the old one is deleted. */
function switchIn(built: string, target: string): void {
  if (!existsSync(target)) {
    renameSync(built, target);
    return;
  }
  const old = join(
    dirname(target),
    `.${basename(target)}${OLD_MARK}${process.pid}-${randomBytes(4).toString('hex')}`,
  );
  renameSync(target, old);
  renameSync(built, target);
  // A server holding the old files open keeps reading them: deleting unlinks names, not open inodes.
  rmSync(old, { recursive: true, force: true });
}

/** Size and sha256 of every file of a built index (paths relative to it, `/`-separated). */
async function describeFiles(dir: string): Promise<Record<string, IndexFileEntry>> {
  const files: Record<string, IndexFileEntry> = {};
  const walk = async (relativeDir: string) => {
    for (const entry of readdirSync(join(dir, relativeDir), { withFileTypes: true }).sort((x, y) =>
      x.name < y.name ? -1 : 1,
    )) {
      const path = relativeDir === '' ? entry.name : `${relativeDir}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (path !== MANIFEST && path !== `${MANIFEST}.tmp`)
        files[path] = { bytes: statSync(join(dir, path)).size, sha256: await sha256File(join(dir, path)) };
    }
  };
  await walk('');
  return files;
}

/** Options of `loadIndex`. */
export interface LoadIndexOptions {
  /** Dense encoder to use instead of the one the manifest names; its id must equal the manifest's. */
  encoder?: Encoder;
  /** When given, this corpus file's sha256 must equal the manifest's. */
  corpus?: string;
  /** HNSW search-time ef (default: the manifest's). */
  ef?: number;
  /** Exact flat search over dense/vectors.f32 instead of HNSW (loads all vectors into memory). */
  exact?: boolean;
  /** Hold the BM25 postings in memory (default: when ≤ 1 GiB). */
  postingsInMemory?: boolean;
  /** File checks against the manifest's sizes and sha256s (default `auto`: checksums up to 2 GiB). */
  verify?: VerifyMode;
}

/** Reads and checks `manifest.json` of an index folder. */
export function readManifest(dir: string): IndexManifest {
  const file = join(dir, MANIFEST);
  if (!existsSync(file))
    throw new IndexMismatchError(dir, `no ${MANIFEST}: not an sr1 index folder, or its build did not finish`);
  let manifest: IndexManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as IndexManifest;
  } catch (error) {
    throw new IndexMismatchError(dir, `${MANIFEST} is not valid JSON (${(error as Error).message})`);
  }
  if (manifest.format !== 'sr1-retriever-index' || manifest.version !== 1) {
    throw new IndexMismatchError(
      dir,
      `unsupported index format ${String(manifest.format)} v${String(manifest.version)} (expected sr1-retriever-index v1)`,
    );
  }
  return manifest;
}

/** Opens an index folder, checking every part against its manifest. */
export async function loadIndex(dir: string, options: LoadIndexOptions = {}): Promise<RetrievalIndex> {
  const root = resolve(dir);
  const manifest = readManifest(root);
  if (options.corpus !== undefined) {
    const sha256 = await sha256File(options.corpus);
    if (sha256 !== manifest.corpus.sha256) {
      throw new IndexMismatchError(
        root,
        `corpus ${options.corpus} (sha256 ${sha256.slice(0, 12)}…) is not the corpus this index was built from (${manifest.corpus.file}, sha256 ${manifest.corpus.sha256.slice(0, 12)}…)`,
      );
    }
  }
  await verifyFiles(root, manifest, options.verify ?? 'auto');
  let docs: DocStore;
  try {
    docs = DocStore.open(
      join(root, DOC_STORE_FILES.docs),
      join(root, DOC_STORE_FILES.offsets),
      manifest.corpus.ordinalIds,
    );
  } catch (error) {
    if (error instanceof IndexCorruptError) throw error;
    throw new IndexMismatchError(root, `document store unreadable: ${(error as Error).message}`);
  }
  try {
    return await openParts(root, manifest, docs, options);
  } catch (error) {
    docs.close();
    throw error;
  }
}

/** Verification of the files at load when the manifest records them. */
export type VerifyMode = 'auto' | 'sizes' | 'checksums';

const CHECKSUM_LIMIT_BYTES = 2 * 1024 ** 3; // 'auto' hashes up to 2 GiB (≈ 2 s at load); above, sizes and structure only

/**
 * Checks each file the manifest lists: it exists, has the recorded size, and (for `checksums`, or
 * `auto` while the index is at most 2 GiB) the recorded sha256. Throws `IndexCorruptError` naming
 * the first file that differs. Indexes built before the manifest had `files` pass unchecked here
 * (their files are still checked structurally as they load).
 */
async function verifyFiles(root: string, manifest: IndexManifest, mode: VerifyMode): Promise<void> {
  const files = manifest.files;
  if (files === undefined) return;
  let total = 0;
  for (const [path, entry] of Object.entries(files)) {
    const file = join(root, path);
    let bytes: number;
    try {
      bytes = statSync(file).size;
    } catch {
      throw new IndexCorruptError(root, file, 'missing');
    }
    if (bytes !== entry.bytes)
      throw new IndexCorruptError(root, file, `${bytes} bytes, the manifest says ${entry.bytes}`);
    total += bytes;
  }
  if (mode === 'sizes' || (mode === 'auto' && total > CHECKSUM_LIMIT_BYTES)) return;
  for (const [path, entry] of Object.entries(files)) {
    const file = join(root, path);
    if ((await sha256File(file)) !== entry.sha256)
      throw new IndexCorruptError(root, file, "its sha256 differs from the manifest's: the file is damaged");
  }
}

async function openParts(
  root: string,
  manifest: IndexManifest,
  docs: DocStore,
  options: LoadIndexOptions,
): Promise<RetrievalIndex> {
  const expect = (what: string, actual: number, expected: number) => {
    if (actual !== expected) {
      throw new IndexMismatchError(root, `${what} holds ${actual} passages, the manifest says ${expected}`);
    }
  };
  expect('document store', docs.size, manifest.corpus.passages);

  let bm25: Bm25Index | undefined;
  if (manifest.bm25 !== null) {
    bm25 = Bm25Index.load(
      join(root, 'bm25'),
      options.postingsInMemory === undefined ? {} : { postingsInMemory: options.postingsInMemory },
    );
    expect('BM25 index', bm25.documents, manifest.corpus.passages);
  }

  let encoder: Encoder | undefined;
  let vectors: VectorIndex | undefined;
  if (manifest.dense !== null) {
    const entry = manifest.dense.encoder;
    if (options.encoder !== undefined) {
      encoder = options.encoder;
    } else if (entry.type === 'hashing') {
      const raw = readFileSync(join(root, DENSE_FILES.idf));
      if (raw.length !== 4 * (1 << HASHING_DEFAULTS.idfBits))
        throw new IndexCorruptError(
          root,
          join(root, DENSE_FILES.idf),
          `${raw.length} bytes, expected ${4 * (1 << HASHING_DEFAULTS.idfBits)}`,
        );
      const idf = new Float32Array(raw.length / 4);
      new Uint8Array(idf.buffer).set(raw);
      encoder = new HashingEncoder({ dimension: entry.dimension, idf });
    } else {
      if (!existsSync(entry.modelDir)) {
        throw new IndexMismatchError(
          root,
          `the index was built with the ONNX model folder ${entry.modelDir}, which is missing; pass the same model as the encoder`,
        );
      }
      encoder = await OnnxEncoder.load({
        modelDir: entry.modelDir,
        queryPrefix: entry.queryPrefix,
        passagePrefix: entry.passagePrefix,
        maxLength: entry.maxLength,
      });
    }
    if (encoder.id !== entry.id || encoder.dimension !== entry.dimension) {
      throw new IndexMismatchError(
        root,
        `encoder mismatch: the index was built with '${entry.id}' (dimension ${entry.dimension}), got '${encoder.id}' (dimension ${encoder.dimension})`,
      );
    }
    if (options.exact === true) {
      const raw = readFileSync(join(root, DENSE_FILES.vectors));
      if (raw.length !== manifest.corpus.passages * entry.dimension * 4)
        throw new IndexCorruptError(
          root,
          join(root, DENSE_FILES.vectors),
          `${raw.length} bytes, ${manifest.corpus.passages} vectors × ${entry.dimension} need ${manifest.corpus.passages * entry.dimension * 4}`,
        );
      const floats = new Float32Array(raw.length / 4);
      new Uint8Array(floats.buffer).set(raw);
      vectors = new FlatIndex(floats, entry.dimension);
    } else {
      vectors = HnswIndex.load(
        join(root, DENSE_FILES.hnsw),
        entry.dimension,
        options.ef ?? manifest.dense.hnsw.ef,
        {
          count: manifest.corpus.passages,
          m: manifest.dense.hnsw.m,
        },
      );
    }
    expect(
      options.exact === true ? 'dense/vectors.f32' : 'HNSW index',
      vectors.size,
      manifest.corpus.passages,
    );
  }
  return new RetrievalIndex(root, manifest, docs, bm25, encoder, vectors);
}

/** A loaded index folder: the document store plus whichever searchers the manifest lists. */
export class RetrievalIndex {
  readonly dir: string;
  readonly manifest: IndexManifest;
  readonly docs: DocStore;
  readonly bm25: Bm25Index | undefined;
  readonly encoder: Encoder | undefined;
  readonly vectors: VectorIndex | undefined;

  constructor(
    dir: string,
    manifest: IndexManifest,
    docs: DocStore,
    bm25: Bm25Index | undefined,
    encoder: Encoder | undefined,
    vectors: VectorIndex | undefined,
  ) {
    this.dir = dir;
    this.manifest = manifest;
    this.docs = docs;
    this.bm25 = bm25;
    this.encoder = encoder;
    this.vectors = vectors;
  }

  /** Number of passages. */
  get size(): number {
    return this.docs.size;
  }

  /** The method used when none is named: the index kind. */
  get defaultMethod(): SearchMethod {
    return this.manifest.kind;
  }

  /**
   * Searches a whole batch together (one encoder call for all queries). Returns per query the
   * top-`topk` passages (internal indices into `docs`), best first.
   */
  async search(
    queries: readonly string[],
    topk: number,
    method: SearchMethod = this.defaultMethod,
  ): Promise<ScoredIndex[][]> {
    if (!Number.isInteger(topk) || topk < 1)
      throw new RetrieverInputError('topk', `expected a positive integer, got ${topk}`);
    if (method === 'bm25') return queries.map((query) => this.requireBm25().search(query, topk));
    if (method === 'dense') return this.denseSearch(queries, topk);
    if (method !== 'hybrid')
      throw new RetrieverInputError(
        'method',
        `unknown search method '${method}'. Supported: [bm25, dense, hybrid]`,
      );
    const depth = Math.max(topk, this.manifest.hybrid?.depth ?? RRF_DEFAULTS.depth);
    const rrfK = this.manifest.hybrid?.k ?? RRF_DEFAULTS.k;
    const bm25 = this.requireBm25();
    const dense = await this.denseSearch(queries, depth);
    return queries.map((query, q) =>
      reciprocalRankFusion([bm25.search(query, depth), dense[q]!], topk, rrfK),
    );
  }

  private requireBm25(): Bm25Index {
    if (this.bm25 === undefined)
      throw new RetrieverInputError(
        'method',
        `the index at ${this.dir} has no BM25 part (kind ${this.manifest.kind})`,
      );
    return this.bm25;
  }

  private async denseSearch(queries: readonly string[], topk: number): Promise<ScoredIndex[][]> {
    if (this.encoder === undefined || this.vectors === undefined) {
      throw new RetrieverInputError(
        'method',
        `the index at ${this.dir} has no dense part (kind ${this.manifest.kind})`,
      );
    }
    if (queries.length === 0) return [];
    const embedded = await this.encoder.encode(queries, 'query');
    return this.vectors.search(embedded, topk);
  }

  /** Closes files and releases the encoder. */
  async close(): Promise<void> {
    this.docs.close();
    this.bm25?.close();
    await this.encoder?.dispose?.();
  }
}
