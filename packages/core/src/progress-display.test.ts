import { describe, expect, it } from 'vitest';
import { formatProgressInfo, ProgressDisplay } from './progress-display.js';

/** A stream that records what is written; a terminal when `isTTY`. */
function recordingStream(isTTY: boolean): NodeJS.WriteStream & { written: string[] } {
  const written: string[] = [];
  const stream = {
    isTTY,
    columns: 120,
    written,
    write: (chunk: string) => {
      written.push(chunk);
      return true;
    },
    // What cli-progress needs of a terminal.
    cursorTo: () => true,
    moveCursor: () => true,
    clearLine: () => true,
    clearScreenDown: () => true,
  };
  return stream as unknown as NodeJS.WriteStream & { written: string[] };
}

describe('formatProgressInfo', () => {
  it('keeps a text and formats named values compactly', () => {
    expect(formatProgressInfo('nq/agent | EM 0.250')).toBe('nq/agent | EM 0.250');
    expect(
      formatProgressInfo({ loss: 0.51234, 'tok/s': 1234.5, lr: 0.0001, kl: Number.NaN, phase: 'rl' }),
    ).toBe('loss 0.512 | tok/s 1235 | lr 0.000100 | kl NaN | phase rl');
    expect(formatProgressInfo({ reward: 1.25 })).toBe('reward 1.250');
    expect(formatProgressInfo({})).toBe('');
  });
});

describe('ProgressDisplay', () => {
  it('writes plain lines when not on a terminal, text or named values', () => {
    const stream = recordingStream(false);
    const progress = new ProgressDisplay(3, 'rl', stream, 0);
    progress.start(0);
    progress.update(1, { loss: 2, 'searches/q': 0.5 });
    progress.update(2, 'EM 0.100');
    progress.update(3, '');
    progress.stop();
    expect(stream.written).toEqual([
      'rl 1/3 | loss 2.000 | searches/q 0.500\n',
      'rl 2/3 | EM 0.100\n',
      'rl 3/3\n',
    ]);
  });

  it('rate-limits plain lines but always writes the last one', () => {
    const stream = recordingStream(false);
    const progress = new ProgressDisplay(4, 'sft', stream, Number.POSITIVE_INFINITY);
    progress.start(0);
    for (let step = 1; step <= 4; step++) progress.update(step, { loss: 1 / step });
    progress.stop();
    expect(stream.written).toEqual(['sft 4/4 | loss 0.250\n']);
  });

  it('redraws a bar with the label and the info on a terminal', () => {
    const stream = recordingStream(true);
    const progress = new ProgressDisplay(10, 'eval', stream);
    progress.start(0);
    progress.update(5, { 'tok/s': 2500 });
    progress.stop();
    const output = stream.written.join('');
    expect(output).toContain('eval [');
    expect(output).toContain('5/10 | tok/s 2500');
    expect(output).not.toContain('\neval 5/10');
  });
});
