// Typed errors of the retriever: a malformed corpus line, an index folder that does not match what
// the caller asked for, and bad requests to the server. Each names the file, line, field or flag.

import { InvalidInputError, Sr1Error } from '@sr1/core';

/** A corpus line that is not a Search-R1 passage `{"id", "contents"}`; names the file and 1-based line. */
export class CorpusFormatError extends InvalidInputError {
  constructor(location: { file: string; line: number; field?: string; reason: string }) {
    super({ code: 'corpus_format', ...location });
  }
}

/**
 * An index folder that is missing, damaged, or built for another corpus, encoder or format. Bad
 * input (the folder the user named), so the CLIs exit 2 with it.
 */
export class IndexMismatchError extends InvalidInputError {
  /** The index folder. */
  readonly dir: string;
  constructor(dir: string, reason: string, options: { code?: string; file?: string } = {}) {
    super({ code: options.code ?? 'index_mismatch', file: options.file ?? dir, reason });
    this.dir = dir;
  }
}

/**
 * A file of an index folder that fails validation at load: wrong size, a checksum that differs
 * from the manifest's, or a header or structure that does not hold. `file` names the file.
 */
export class IndexCorruptError extends IndexMismatchError {
  constructor(dir: string, file: string, reason: string) {
    super(dir, `${reason}; rebuild the index with sr1-retriever index`, { code: 'index_corrupt', file });
  }
}

/** A corpus with no passages (empty, or only blank lines); names the file. */
export class EmptyCorpusError extends InvalidInputError {
  constructor(file: string) {
    super({ code: 'corpus_empty', file, reason: 'the corpus holds no passages' });
  }
}

/** A search request whose shape or values are wrong (bad queries, topk, body); the server answers 4xx. */
export class RetrieverInputError extends InvalidInputError {
  constructor(field: string, reason: string, code = 'retriever_input') {
    super({ code, field, reason });
  }
}

/** A request whose work or response would exceed the server's per-request budget (HTTP 413). */
export class RequestTooLargeError extends RetrieverInputError {
  constructor(field: string, reason: string) {
    super(field, reason, 'request_too_large');
  }
}

/** The HTTP retriever got a non-2xx answer or a body that is not a `/retrieve` response. */
export class RetrieverHttpError extends Sr1Error {
  /** HTTP status, or 0 when the connection failed. */
  readonly status: number;
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super('retriever_http', message, options);
    this.status = status;
  }
}

/**
 * A retriever's own file or bookkeeping is not what it wrote: a short read, a record that does not
 * match its store, a run file cut short. Not the user's input; a bug or a file changed underneath.
 */
export class RetrieverInvariantError extends Sr1Error {
  constructor(message: string) {
    super('retriever_invariant', message);
  }
}
