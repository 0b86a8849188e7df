// Metrics as JSONL, one object per step, appended as it happens (the progress display shown
// beside them is @sr1/core's `ProgressDisplay`).

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { InvalidInputError } from '@sr1/core';

/** Appends one JSON object per line; on resume, drops lines past the checkpoint's step. */
export class MetricsWriter {
  constructor(readonly file: string) {}

  /** Keeps only records with `step ≤ step`, so a resumed run's file equals an uninterrupted one. */
  truncateAfter(step: number): void {
    // A step that is not an integer (a state read from a corrupt checkpoint) would drop every line.
    if (!Number.isInteger(step)) {
      throw new InvalidInputError({
        field: 'step',
        reason: `truncateAfter expects an integer step, got ${step}`,
      });
    }
    if (!existsSync(this.file)) return;
    const text = readFileSync(this.file, 'utf8');
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    // A run killed inside appendFileSync can leave a torn last line (no newline): it belongs to a
    // step after the checkpoint, so it goes; a bad line anywhere else is an error, and the file is left as it is.
    if (!text.endsWith('\n')) lines.pop();
    const kept = lines.filter((line, index) => {
      let record: { step?: number };
      try {
        record = JSON.parse(line) as { step?: number };
      } catch {
        throw new InvalidInputError({
          file: this.file,
          line: index + 1,
          reason: 'not a JSON metrics record',
        });
      }
      return record.step === undefined || record.step <= step;
    });
    writeFileSync(this.file, kept.map((line) => `${line}\n`).join(''));
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
}
