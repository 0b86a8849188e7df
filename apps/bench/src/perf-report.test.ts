import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { BenchInvariantError } from './errors.js';
import {
  benchmarkOfCommand,
  checkUniqueIds,
  formatQuantity,
  formatRow,
  mergeRows,
  NO_ID,
  type PerfRow,
  parseRow,
  readSectionRows,
  renderSection,
  replaceSection,
  SECTION_BEGIN,
  SECTION_END,
  speedRatio,
  toJsonRow,
  toPerfRow,
} from './perf-report.js';

const CONTEXT = {
  date: '2026-11-26',
  machine: 'CPU X, 2 cores, load 1.00 → 2.00, Node v20.20.2, ORT 1.30.0',
};

function row(benchmark: PerfRow['benchmark'], what: string, date = '2026-11-26'): PerfRow {
  return {
    benchmark,
    id: `${benchmark}-${what.replace(/\W+/g, '-')}`,
    what,
    command: `\`npx sr1-bench perf --only ${benchmark}\``,
    sr1: '1 q/s',
    peer: '—',
    ratio: '—',
    date,
    machine: CONTEXT.machine,
  };
}

describe('ratios and quantities', () => {
  it('reads > 1 as sr1 faster for rates and for times', () => {
    expect(speedRatio(300, 100, 'higher')).toBe(3);
    expect(speedRatio(2, 10, 'lower')).toBe(5);
    expect(speedRatio(10, 2, 'lower')).toBe(0.2);
  });

  it('keeps three significant digits and groups thousands', () => {
    expect(formatQuantity({ value: 3644.4, unit: 'tok/s' })).toBe('3,644 tok/s');
    expect(formatQuantity({ value: 2091.53, unit: 'tok/s' })).toBe('2,092 tok/s');
    expect(formatQuantity({ value: 90.84, unit: 'tok/s' })).toBe('90.8 tok/s');
    expect(formatQuantity({ value: 15.14, unit: 's' })).toBe('15.1 s');
    expect(formatQuantity({ value: 1.234, unit: 's' })).toBe('1.23 s');
    expect(formatQuantity({ value: 0.1861, unit: 's' })).toBe('0.186 s');
    expect(formatQuantity({ value: 0.01404, unit: 's' })).toBe('0.0140 s');
    expect(formatQuantity({ value: 15, unit: 's' })).toBe('15.0 s');
  });
});

describe('rows', () => {
  it('computes the ratio and says how a time ratio reads', () => {
    const timed = toPerfRow(
      {
        id: 'hnsw-build',
        what: 'build',
        sr1: { value: 15, unit: 's' },
        peer: { value: 205, unit: 's' },
        better: 'lower',
      },
      { benchmark: 'hnsw', command: '`npx sr1-bench perf --only hnsw`', ...CONTEXT },
    );
    expect(timed.ratio).toBe('13.67');
    expect(timed.what).toBe('build (times: ratio = peer / sr1, > 1 means sr1 is faster)');
    expect(timed.sr1).toBe('15.0 s');
    expect(timed.peer).toBe('205 s');

    const rate = toPerfRow(
      {
        id: 'hnsw-query',
        what: 'search',
        sr1: { value: 716, unit: 'q/s' },
        peer: { value: 324, unit: 'q/s' },
        better: 'higher',
      },
      { benchmark: 'hnsw', command: '`c`', ...CONTEXT },
    );
    expect(rate.ratio).toBe('2.21');
    expect(rate.what).toBe('search');

    const alone = toPerfRow(
      {
        id: 'index-build',
        what: 'index build',
        sr1: { value: 22.8, unit: 's' },
        peer: null,
        better: 'lower',
      },
      { benchmark: 'index', command: '`c`', ...CONTEXT },
    );
    expect([alone.what, alone.peer, alone.ratio]).toEqual(['index build', '—', '—']);
  });

  it('refuses a row whose sides are in different units', () => {
    expect(() =>
      toPerfRow(
        { id: 'x', what: 'x', sr1: { value: 1, unit: 's' }, peer: { value: 1, unit: 'ms' }, better: 'lower' },
        { benchmark: 'hnsw', command: '`c`', ...CONTEXT },
      ),
    ).toThrow(/sr1 in s but peer in ms/);
    expect(() =>
      toPerfRow(
        { id: 'x', what: 'x', sr1: { value: 1, unit: 's' }, peer: { value: 1, unit: 'ms' }, better: 'lower' },
        { benchmark: 'hnsw', command: '`c`', ...CONTEXT },
      ),
    ).toThrow(BenchInvariantError);
  });

  it('writes a table line that parses back, with | escaped inside cells', () => {
    const original: PerfRow = { ...row('server', 'p50 | p99 of `/retrieve`'), sr1: '188 req/s' };
    const line = formatRow(original);
    expect(line).toBe(
      '| server-p50-p99-of-retrieve- | p50 \\| p99 of `/retrieve` | `npx sr1-bench perf --only server` | 188 req/s | — | — | 2026-11-26 | ' +
        `${CONTEXT.machine} |`,
    );
    const parsed = parseRow(line);
    expect(parsed).toEqual({ ...original, what: 'p50 \\| p99 of `/retrieve`' });
    expect(formatRow(parsed!)).toBe(line);
  });

  it('reads the benchmark from the command, and ignores lines that are not generated rows', () => {
    expect(benchmarkOfCommand('`npx sr1-bench perf --only llama-cpp --quick`')).toBe('llama-cpp');
    expect(benchmarkOfCommand('`npx sr1-bench perf --only nonsense`')).toBeNull();
    expect(parseRow('| id | what | command | sr1 | peer | ratio | date | machine |')).toBeNull();
    expect(parseRow('| -- | ---- | ------- | --- | ---- | ----- | ---- | ------- |')).toBeNull();
    expect(parseRow('| a | `node x.mjs` | 1 | 2 | 0.5 | 2026-11-25 |')).toBeNull();
    expect(parseRow('Last run 2026-11-26: ran train.')).toBeNull();
  });

  it('keeps a row written before rows had ids, with no id, so a partial run does not drop it', () => {
    const legacy =
      '| Decode tokens/s at batch 1 | `npx sr1-bench perf --only llama-cpp` | 109 tok/s | 45.7 tok/s | 2.39 | 2026-11-25 | m |';
    const parsed = parseRow(legacy);
    expect(parsed).toMatchObject({ benchmark: 'llama-cpp', id: NO_ID, what: 'Decode tokens/s at batch 1' });
    expect(formatRow(parsed!)).toBe(`| ${NO_ID} |${legacy.slice(1)}`);
  });

  it('--json rows carry the id, numbers, one unit and the ratio as a number', () => {
    const context = {
      benchmark: 'llama-cpp' as const,
      command: '`npx sr1-bench perf --only llama-cpp`',
      ...CONTEXT,
    };
    const decode = toJsonRow(
      {
        id: 'decode-b1',
        what: 'Decode tokens/s at batch 1',
        sr1: { value: 139, unit: 'tok/s' },
        peer: { value: 174.6, unit: 'tok/s' },
        better: 'higher',
        threads: { sr1: 1, peer: 1, tried: [1, 2] },
      },
      context,
    );
    expect(decode).toEqual({
      id: 'decode-b1',
      what: 'Decode tokens/s at batch 1',
      sr1: 139,
      peer: 174.6,
      ratio: 139 / 174.6,
      unit: 'tok/s',
      better: 'higher',
      benchmark: 'llama-cpp',
      threads: { sr1: 1, peer: 1, tried: [1, 2] },
      command: 'npx sr1-bench perf --only llama-cpp',
      date: CONTEXT.date,
      machine: CONTEXT.machine,
    });
    const alone = toJsonRow(
      {
        id: 'index-build',
        what: 'index build',
        sr1: { value: 22.8, unit: 's' },
        peer: null,
        better: 'lower',
      },
      { ...context, benchmark: 'index' },
    );
    expect([alone.peer, alone.ratio, alone.unit, 'threads' in alone]).toEqual([null, null, 's', false]);
    const timed = toJsonRow(
      {
        id: 'hnsw-build',
        what: 'build',
        sr1: { value: 15, unit: 's' },
        peer: { value: 205, unit: 's' },
        better: 'lower',
      },
      { ...context, benchmark: 'hnsw' },
    );
    expect(timed.ratio).toBeCloseTo(205 / 15, 12);
    expect(() =>
      toJsonRow(
        { id: 'x', what: 'x', sr1: { value: 1, unit: 's' }, peer: { value: 1, unit: 'ms' }, better: 'lower' },
        context,
      ),
    ).toThrow(/sr1 in s but peer in ms/);
  });

  it('refuses two rows with one id', () => {
    expect(() => checkUniqueIds([{ id: 'prefill' }, { id: 'decode-b1' }])).not.toThrow();
    expect(() => checkUniqueIds([{ id: 'prefill' }, { id: 'prefill' }])).toThrow(
      "two rows have the id 'prefill'",
    );
    expect(() => checkUniqueIds([{ id: 'prefill' }, { id: 'prefill' }])).toThrow(BenchInvariantError);
  });
});

describe('the generated section', () => {
  const history = [
    '# Benchmarks',
    '',
    'Intro.',
    '',
    '## History',
    '',
    '| what | command | sr1 | peer | ratio | date |',
    '| a | `node old.mjs` | 1 | 2 | 0.50 | 2026-11-25 |',
    '',
  ].join('\n');

  it('goes before the first heading of a document without one, and replaces itself afterwards', () => {
    const first = replaceSection(history, renderSection([row('train', 'first')], [], '2026-11-26'));
    expect(first.startsWith('# Benchmarks\n\nIntro.\n\n<!-- sr1-bench perf: begin -->')).toBe(true);
    expect(first.endsWith(`${SECTION_END}\n\n## History\n\n${history.split('## History\n\n')[1]}`)).toBe(
      true,
    );
    expect(readSectionRows(first).map((r) => r.what)).toEqual(['first']);

    const second = replaceSection(first, renderSection([row('hnsw', 'second')], [], '2026-11-27'));
    expect(readSectionRows(second).map((r) => r.what)).toEqual(['second']);
    expect(second.split(SECTION_BEGIN)).toHaveLength(2);
    // everything outside the markers is untouched
    const outside = (text: string) =>
      text.slice(0, text.indexOf(SECTION_BEGIN)) + text.slice(text.indexOf(SECTION_END));
    expect(outside(second)).toBe(outside(first));
    // the history rows are not generated rows
    expect(readSectionRows(history)).toEqual([]);
  });

  it('is appended to a document without headings', () => {
    expect(replaceSection('Some text.', 'S')).toBe('Some text.\n\nS\n');
    expect(replaceSection('', 'S')).toBe('S\n');
  });

  it('refuses broken markers, naming the file', () => {
    const lonely = `${history}\n${SECTION_BEGIN}\n`;
    expect(() => replaceSection(lonely, 'S', 'docs/benchmarks.md')).toThrow(InvalidInputError);
    expect(() => replaceSection(lonely, 'S', 'docs/benchmarks.md')).toThrow(
      /^docs\/benchmarks\.md: expected one/,
    );
    expect(() => readSectionRows(`${SECTION_END}\n${SECTION_BEGIN}`, 'f.md')).toThrow(/comes before/);
    expect(() => readSectionRows(`${SECTION_BEGIN}${SECTION_END}${SECTION_BEGIN}${SECTION_END}`)).toThrow(
      /found 2 and 2/,
    );
  });

  it('says so when it has no rows, and lists what was skipped or failed', () => {
    const empty = renderSection([], [], '2026-11-26');
    expect(empty).toContain('No rows yet: run `npx sr1-bench perf`');
    expect(empty).not.toContain('| what |');

    const text = renderSection(
      [row('train', 'a')],
      [
        { benchmark: 'train', status: 'ran' },
        { benchmark: 'llama-cpp', status: 'skipped', reason: 'node-llama-cpp missing' },
        { benchmark: 'hnsw', status: 'failed', reason: 'boom' },
      ],
      '2026-11-26',
    );
    expect(text).toContain('Last run 2026-11-26: ran train.');
    expect(text).toContain('Skipped: llama-cpp (node-llama-cpp missing).');
    expect(text).toContain('Failed: hnsw (boom).');
    expect(text).toContain('keep the date and machine of the run that measured them');
    expect(text.startsWith(SECTION_BEGIN)).toBe(true);
    expect(text.endsWith(SECTION_END)).toBe(true);
  });
});

describe('docs/benchmarks.md', () => {
  it('has a generated section whose every row has a unique id, decode-b1 and prefill among them', () => {
    const file = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url));
    const rows = readSectionRows(readFileSync(file, 'utf8'), file);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((row) => row.id === NO_ID)).toEqual([]);
    checkUniqueIds(rows);
    expect(rows.map((row) => row.id)).toEqual(expect.arrayContaining(['prefill', 'decode-b1']));
  });
});

describe('mergeRows', () => {
  it('replaces the rows of benchmarks that ran, keeps the others, and orders by benchmark', () => {
    const previous = [
      row('server', 'old server', '2026-11-20'),
      row('train', 'old train', '2026-11-20'),
      row('hnsw', 'old hnsw', '2026-11-20'),
    ];
    const fresh = [row('hnsw', 'new hnsw 1'), row('hnsw', 'new hnsw 2'), row('llama-cpp', 'new llama')];
    const merged = mergeRows(previous, fresh, new Set(['hnsw', 'llama-cpp'] as const));
    expect(merged.map((r) => r.what)).toEqual([
      'old train',
      'new llama',
      'new hnsw 1',
      'new hnsw 2',
      'old server',
    ]);
  });

  it('drops the old rows of a benchmark that ran and produced none', () => {
    expect(mergeRows([row('index', 'old')], [], new Set(['index'] as const))).toEqual([]);
  });
});
