// Metrics as JSONL (one object per step, appended as it happens) and a progress display: a bar on a
// terminal, plain periodic lines when output is piped (CI logs stay readable).

import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import cliProgress from 'cli-progress';

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

/** Step progress with named live values (loss, tokens/s…). */
export class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private lastLine = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.bar = stream.isTTY
      ? new cliProgress.SingleBar(
          { format: `${label} [{bar}] {value}/{total} | {info}`, stream, hideCursor: true },
          cliProgress.Presets.shades_classic,
        )
      : null;
  }

  start(value: number): void {
    this.bar?.start(this.total, value, { info: '' });
  }

  update(value: number, info: Record<string, number | string>): void {
    const text = Object.entries(info)
      .map(([key, v]) => `${key} ${typeof v === 'number' ? formatNumber(v) : v}`)
      .join(' | ');
    if (this.bar !== null) {
      this.bar.update(value, { info: text });
    } else if (value === this.total || performance.now() - this.lastLine > 5000) {
      this.lastLine = performance.now();
      this.stream.write(`${this.label} ${value}/${this.total} | ${text}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(3);
  return value.toPrecision(3);
}
