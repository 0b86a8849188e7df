// Typed errors of the retriever: a malformed corpus line, an index folder that does not match what
// the caller asked for, and bad requests to the server. Each names the file, line, field or flag.

import { InvalidInputError, Sr1Error } from '@sr1/core';

/** A corpus line that is not a Search-R1 passage `{"id", "contents"}`; names the file and 1-based line. */
export class CorpusFormatError extends InvalidInputError {
  constructor(location: { file: string; line: number; field?: string; reason: string }) {
    super({ code: 'corpus_format', ...location });
  }
}

/** An index folder that is missing, damaged, or built for another corpus, encoder or format. */
export class IndexMismatchError extends Sr1Error {
  /** The index folder. */
  readonly dir: string;
  constructor(dir: string, reason: string) {
    super('index_mismatch', `${dir}: ${reason}`);
    this.dir = dir;
  }
}

/** A search request whose shape or values are wrong (bad queries, topk, body); the server answers 4xx. */
export class RetrieverInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'retriever_input', field, reason });
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
