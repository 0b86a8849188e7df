// Metrics as JSONL, one object per step, appended as it happens (the progress display shown
// beside them is @sr1/core's `ProgressDisplay`).

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

/** Appends one JSON object per line; on resume, drops lines past the checkpoint's step. */
export class MetricsWriter {
  constructor(readonly file: string) {}

  /** Keeps only records with `step ≤ step`, so a resumed run's file equals an uninterrupted one. */
  truncateAfter(step: number): void {
    if (!existsSync(this.file)) return;
    const kept = readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .filter((line) => {
        const record = JSON.parse(line) as { step?: number };
        return record.step === undefined || record.step <= step;
      });
    writeFileSync(this.file, kept.map((line) => `${line}\n`).join(''));
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.file, `${JSON.stringify(record)}\n`);
  }
}
