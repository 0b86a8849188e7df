// Search: the one small interface the agent loop and the evaluations need from a retriever.
// `@sr1/retriever` implements it in process (`InProcessRetriever`) and over HTTP
// (`HttpRetriever`, for ours or the reference Python `/retrieve` server).

/** One retrieved passage. */
export interface SearchHit {
  /** Corpus id. */
  id: string;
  /** First line of `contents` without its quotes. */
  title: string;
  /** `contents` after the first line. */
  text: string;
  /** The raw corpus `contents` ("\"Title\"\ntext"). */
  contents: string;
  /** Retrieval score (BM25, inner product, or RRF); higher is better. */
  score: number;
  /** Where the passage came from (file, title, headings, offsets), for indexes made by `sr1-retriever ingest`. */
  source?: PassageSource;
}

/** The source of one passage: the file, its title, the headings above it and where it sits. */
export interface PassageSource {
  /** File path relative to the ingested folder, `/`-separated. */
  path: string;
  /** Document title (Markdown's first `#` heading, HTML's title, PDF's Title, or the file name). */
  title: string;
  /** Headings the passage sits under, outermost first. */
  headingPath: string[];
  /** Character offsets `[start, end)` of the passage in the document's text (what `open` returns). */
  start: number;
  end: number;
  /** 1-based PDF page where the passage starts. */
  page?: number;
  /** 1-based line of the JSONL record. */
  line?: number;
}

/** The whole document a passage came from (ingested indexes), or the passage itself. */
export interface OpenedDocument {
  /** The passage id that was opened. */
  id: string;
  title: string;
  text: string;
  /** True when `text` is the whole source document, false when it is only the passage. */
  whole: boolean;
  source?: PassageSource;
}

/** Batched search: per query, up to `topk` hits, best first. */
export interface Retriever {
  search(queries: readonly string[], topk: number): Promise<SearchHit[][]>;
  /**
   * The documents of passage ids, one per id, null for an id the retriever does not know. Needed
   * only by rollouts that offer the `open` tool.
   */
  open?(ids: readonly string[]): Promise<(OpenedDocument | null)[]>;
}
