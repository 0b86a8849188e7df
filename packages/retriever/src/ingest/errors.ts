// Errors of `ingest`: a file of the documents folder that cannot be read or parsed. Ingest reports
// each one in its summary (the file is skipped) rather than stopping the whole folder.

import { InvalidInputError } from '@sr1/core';

/** A document that could not be read or parsed; names the file (and line, for JSONL). */
export class IngestFileError extends InvalidInputError {
  constructor(file: string, reason: string, options: { line?: number; cause?: unknown } = {}) {
    super(
      { code: 'ingest_file', file, reason, ...(options.line !== undefined ? { line: options.line } : {}) },
      options.cause !== undefined ? { cause: options.cause } : undefined,
    );
  }
}
