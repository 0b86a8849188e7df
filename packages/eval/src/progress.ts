// A progress display for evaluation runs: a bar on a terminal, plain periodic lines when output is
// piped, so logs of long runs stay readable.

import cliProgress from 'cli-progress';

/** Progress of a long run with a live info text. */
export class ProgressDisplay {
  private readonly bar: cliProgress.SingleBar | null;
  private lastLine = 0;

  /**
   * @param intervalMs - least time between two plain lines when not on a terminal
   */
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 5000, // a line every few seconds keeps CI logs short
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

  update(value: number, info: string): void {
    if (this.bar !== null) {
      this.bar.update(value, { info });
    } else if (value >= this.total || performance.now() - this.lastLine > this.intervalMs) {
      this.lastLine = performance.now();
      this.stream.write(`${this.label} ${value}/${this.total}${info === '' ? '' : ` | ${info}`}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}
