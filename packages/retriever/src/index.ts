// @sr1/retriever: the search engine of Search-R1 — corpus store, BM25, dense (ONNX or hashing
// encoder, HNSW or exact), hybrid fusion, index folders, the /retrieve server and its clients.

// Analysis and BM25
export { analyze, ENGLISH_STOP_WORDS, tokenize } from './analysis.js';
// Benchmarks (`sr1-retriever bench`, and `sr1-bench perf` which runs them with the other packages')
export type { HnswBenchOptions, HnswBenchResult } from './bench/hnsw.js';
export { benchHnsw, HNSW_BENCH_DEFAULTS } from './bench/hnsw.js';
export type {
  ServerBatchRow,
  ServerBenchOptions,
  ServerBenchResult,
  ServerLoadRow,
} from './bench/server-load.js';
export { benchServer, SERVER_BENCH_DEFAULTS } from './bench/server-load.js';
export type { Bm25BuildOptions, Bm25LoadOptions, Bm25Parameters } from './bm25.js';
export { Bm25Builder, Bm25Index, DEFAULT_BM25_PARAMETERS } from './bm25.js';
// Corpus and document store
export type {
  CorpusDigest,
  CorpusIssue,
  CorpusReport,
  DuplicateIdPolicy,
  InvalidUtf8Policy,
  ParsedPassage,
  Passage,
  ReadCorpusOptions,
  ReadProgress,
} from './corpus.js';
export {
  DocStore,
  DocStoreWriter,
  parseCorpusLine,
  readCorpus,
  sha256File,
  splitContents,
} from './corpus.js';
// Encoders
export type { EncodeRole, Encoder } from './encoder.js';
export { normalizeRows } from './encoder.js';
// Errors
export {
  CorpusFormatError,
  EmptyCorpusError,
  IndexCorruptError,
  IndexMismatchError,
  RequestTooLargeError,
  RetrieverHttpError,
  RetrieverInputError,
  RetrieverInvariantError,
} from './errors.js';
export type { HashingEncoderOptions } from './hashing-encoder.js';
export { HASHING_DEFAULTS, HashingEncoder, HashingIdfFitter } from './hashing-encoder.js';
export { RRF_DEFAULTS, reciprocalRankFusion } from './hybrid.js';
// Index folders
export type {
  BuildIndexOptions,
  BuildProgress,
  EncoderSpec,
  IndexFileEntry,
  IndexKind,
  IndexManifest,
  LoadIndexOptions,
  SearchMethod,
  VerifyMode,
} from './index-folder.js';
export { buildIndex, loadIndex, RetrievalIndex, readManifest } from './index-folder.js';
// Your own documents: `ingest` (parsers, chunker, incremental builds) and the sources it records
export type { Chunk, ChunkOptions, DocumentLayout } from './ingest/chunk.js';
export { CHUNK_DEFAULTS, chunkDocument, layoutDocument } from './ingest/chunk.js';
export { IngestFileError } from './ingest/errors.js';
export type {
  IngestedFile,
  IngestOptions,
  IngestRecord,
  IngestSummary,
  SkippedFile,
} from './ingest/ingest.js';
export { ingestFolder, passageId } from './ingest/ingest.js';
export type { Block, DocumentFormat, ParsedDocument } from './ingest/parse.js';
export { formatOf, parseDocument } from './ingest/parse.js';
export type { IngestedDocument, PassageSource } from './ingest/sources.js';
export { IngestedSources } from './ingest/sources.js';
// MCP server (`sr1-retriever mcp`)
export type { McpSearchServer, McpServerOptions } from './mcp-server.js';
export { createMcpServer, MCP_DEFAULTS } from './mcp-server.js';
export type { OnnxEncoderOptions } from './onnx-encoder.js';
export { meanPool, ONNX_ENCODER_DEFAULTS, OnnxEncoder } from './onnx-encoder.js';
export { porterStem } from './porter-stemmer.js';
// Retrievers (implementing @sr1/spec's Retriever, the interface @sr1/rollout depends on) and the server
// Query cache (in process and in the server)
export type { QueryCacheOptions, QueryCacheStats } from './query-cache.js';
export { normalizeQuery, QUERY_CACHE_DEFAULTS, QueryCache } from './query-cache.js';
export type {
  HttpRetrieverOptions,
  InProcessRetrieverOptions,
  OpenedDocument,
  Retriever,
  SearchHit,
} from './retriever.js';
export { HttpRetriever, InProcessRetriever, toSearchHit } from './retriever.js';
export type { ServerOptions } from './server.js';
export { createServer, resultBudget, SERVER_DEFAULTS, startServer } from './server.js';
// Vector search and fusion
export type { ScoredIndex } from './top-k.js';
export { TopK } from './top-k.js';
export type { HnswParameters, VectorIndex } from './vector-index.js';
export { DEFAULT_HNSW_PARAMETERS, FlatIndex, HnswIndex } from './vector-index.js';
