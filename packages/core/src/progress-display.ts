// The one progress display of sr1's long runs (training steps, evaluations): a bar redrawn in
// place on a terminal, plain periodic lines when output is piped, so logs of long runs stay
// readable. A quiet run simply constructs none.

import cliProgress from 'cli-progress';

/** Live values shown after the count: a ready text, or named values (`{ loss, 'tok/s' }`). */
export type ProgressInfo = string | Readonly<Record<string, number | string>>;

/** Progress of a long run (`value` of `total`) with live info such as loss, tokens/s or EM. */
export class ProgressDisplay {
  private readonly bar: cliProgress.SingleBar | null;
  private lastLine = 0;

  /**
   * @param stream - where to draw; a bar when it is a TTY, plain lines otherwise
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

  /** Redraws the bar, or writes a plain line when the interval has passed or the run is done. */
  update(value: number, info: ProgressInfo): void {
    const text = formatProgressInfo(info);
    if (this.bar !== null) {
      this.bar.update(value, { info: text });
    } else if (value >= this.total || performance.now() - this.lastLine > this.intervalMs) {
      this.lastLine = performance.now();
      this.stream.write(`${this.label} ${value}/${this.total}${text === '' ? '' : ` | ${text}`}\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** `{ loss: 0.51234, 'tok/s': 1234.5 }` → `loss 0.512 | tok/s 1235`; a string stays as it is. */
export function formatProgressInfo(info: ProgressInfo): string {
  if (typeof info === 'string') return info;
  return Object.entries(info)
    .map(([key, value]) => `${key} ${typeof value === 'number' ? formatNumber(value) : value}`)
    .join(' | ');
}

// Short enough for one terminal line: whole numbers from 1000 up, three decimals from 1, three
// significant figures below (a loss of 0.000123 still shows).
function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(3);
  return value.toPrecision(3);
}
