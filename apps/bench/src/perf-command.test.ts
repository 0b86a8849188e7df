// `sr1-bench perf`'s flags, the commands its rows carry, and one real run of the cheapest benchmark
// (the index build over 300 shared-corpus passages) into a file that already has history and rows.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@sr1/core';
import { buildIndex } from '@sr1/retriever';
import { describe, expect, it } from 'vitest';
import { parsePerfArgs, rowCommand, runPerfCommand } from './perf-command.js';
import {
  formatRow,
  PERF_BENCHMARKS,
  type PerfJsonRow,
  readSectionRows,
  renderSection,
  SECTION_BEGIN,
} from './perf-report.js';

const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'sr1-bench-perf-'));
}

/** A data folder with a 300-passage corpus and the first questions of one dataset. */
function smallData(root: string): string {
  const data = join(root, 'data');
  mkdirSync(data);
  const corpus = readFileSync(join(SHARED_DATA_DIR, 'corpus.jsonl'), 'utf8').split('\n').slice(0, 300);
  writeFileSync(join(data, 'corpus.jsonl'), `${corpus.join('\n')}\n`);
  const questions = readFileSync(join(SHARED_DATA_DIR, 'nq.jsonl'), 'utf8').split('\n').slice(0, 20);
  writeFileSync(join(data, 'nq.jsonl'), `${questions.join('\n')}\n`);
  return data;
}

function flagError(run: () => unknown): InvalidInputError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

describe('parsePerfArgs', () => {
  it('selects every benchmark by default and the named ones in run order with --only', () => {
    const out = join(scratch(), 'b.md');
    expect(parsePerfArgs(['--out', out]).only).toEqual([...PERF_BENCHMARKS]);
    expect(parsePerfArgs(['--out', out, '--only', 'server, train']).only).toEqual(['train', 'server']);
  });

  it('sweeps 1..cores by default and the given thread counts with --threads', () => {
    const out = join(scratch(), 'b.md');
    const cores = availableParallelism();
    expect(parsePerfArgs(['--out', out]).threads).toEqual(Array.from({ length: cores }, (_, i) => i + 1));
    expect(parsePerfArgs(['--out', out, '--threads', '2,1']).threads).toEqual([1, 2]);
  });

  it('--json writes no file unless --out says where', () => {
    expect(parsePerfArgs(['--json'])).toMatchObject({ json: true, out: null });
    const out = join(scratch(), 'b.md');
    expect(parsePerfArgs(['--json', '--out', out])).toMatchObject({ json: true, out });
    expect(parsePerfArgs(['--out', out]).json).toBe(false);
  });

  it('prints quick runs instead of writing docs, unless --out says where', () => {
    expect(parsePerfArgs(['--quick']).out).toBeNull();
    expect(parsePerfArgs(['--out', '-']).out).toBeNull();
    const out = join(scratch(), 'b.md');
    expect(parsePerfArgs(['--quick', '--out', out]).out).toBe(out);
  });

  it('names the flag of every bad input', () => {
    const out = join(scratch(), 'b.md');
    const cases: [string[], string, RegExp][] = [
      [
        ['--only', 'train,gpu'],
        '--only',
        /unknown benchmark 'gpu'. Supported: \[train, llama-cpp, engine, ledger, index, hnsw, server\]/,
      ],
      [['--only', ','], '--only', /expected a comma-separated list/],
      [['--threads', '0'], '--threads', /expected positive integers like 1,2, got '0'/],
      [['--threads', 'two'], '--threads', /got 'two'/],
      [['--threads', '1,x'], '--threads', /got 'x' in '1,x'/],
      [['--threads', ','], '--threads', /got nothing/],
      [['--threads'], '--threads', /argument missing/],
      [['--json=yes'], '--json', /does not take an argument/],
      [['--data', '/nowhere'], '--data', /holds no corpus.jsonl/],
      [['--index', scratch()], '--index', /manifest/],
      [['--train-config', '/nowhere.json'], '--train-config', /does not exist/],
      [['--llamacpp', '/nowhere'], '--llamacpp', /does not exist/],
      [['--torch-python', ''], '--torch-python', /expected a comma-separated list/],
      [['--bogus'], '--bogus', /Unknown option '--bogus'/],
      [['--only'], '--only', /argument missing/],
      [['--quick=yes'], '--quick', /does not take an argument/],
    ];
    for (const [args, flag, reason] of cases) {
      const error = flagError(() => parsePerfArgs(['--out', out, ...args]));
      expect(error.flag, args.join(' ')).toBe(flag);
      expect(error.message, args.join(' ')).toMatch(reason);
    }
    expect(flagError(() => parsePerfArgs(['--out', '/nowhere/b.md'])).flag).toBe('--out');
  });

  it('refuses an index that is not hybrid', async () => {
    const root = scratch();
    const index = join(root, 'bm25');
    await buildIndex({ corpus: join(smallData(root), 'corpus.jsonl'), out: index, kind: 'bm25' });
    const error = flagError(() => parsePerfArgs(['--out', '-', '--index', index]));
    expect(error.flag).toBe('--index');
    expect(error.message).toMatch(/is a bm25 index; hnsw and server need a hybrid one/);
  });
});

describe('rowCommand', () => {
  it('repeats --quick and only the given flags that change what the benchmark measures', () => {
    const data = smallData(scratch());
    const options = parsePerfArgs([
      '--quick',
      '--data',
      data,
      '--threads',
      '1,4',
      '--faiss-python',
      'python3',
    ]);
    expect(rowCommand('hnsw', options)).toBe(
      `\`npx sr1-bench perf --only hnsw --quick --data ${data} --faiss-python python3\``,
    );
    expect(rowCommand('train', options, ['--torch-python', '/usr/bin/python3'])).toBe(
      '`npx sr1-bench perf --only train --quick --threads 1,4 --torch-python /usr/bin/python3`',
    );
    const full = parsePerfArgs(['--out', '-']);
    expect(rowCommand('index', full)).toBe('`npx sr1-bench perf --only index`');
    expect(rowCommand('train', { ...full, given: { '--train-config': 'my config.json' } })).toBe(
      "`npx sr1-bench perf --only train --train-config 'my config.json'`",
    );
  });
});

describe('runPerfCommand', () => {
  function buffers() {
    const output = { stdout: '', stderr: '' };
    return {
      output,
      io: {
        stdout: (text: string) => (output.stdout += text),
        stderr: (text: string) => (output.stderr += text),
      },
    };
  }

  it('--dry-run shows the plan and writes nothing', async () => {
    const root = scratch();
    const out = join(root, 'benchmarks.md');
    writeFileSync(out, '# Benchmarks\n');
    const { output, io } = buffers();
    const data = smallData(root);
    const outcomes = await runPerfCommand(
      ['--dry-run', '--out', out, '--only', 'index,server', '--data', data],
      io,
    );
    expect(outcomes).toEqual([
      { benchmark: 'index', status: 'ran' },
      { benchmark: 'server', status: 'ran' },
    ]);
    expect(output.stderr).toContain(`  index      run: data ${data}\n`);
    expect(output.stderr).toContain(`  server     run: data ${data}\n`);
    expect(output.stderr).toContain('dry run: nothing measured, nothing written');
    expect(readFileSync(out, 'utf8')).toBe('# Benchmarks\n');
  });

  it('--dry-run names the thread counts the threaded benchmarks sweep', async () => {
    const { output, io } = buffers();
    await runPerfCommand(['--dry-run', '--out', '-', '--only', 'train,llama-cpp', '--threads', '1,2'], io);
    const lines = output.stderr.split('\n');
    for (const id of ['train', 'llama-cpp']) {
      const line = lines.find((text) => text.startsWith(`  ${id} `));
      expect(line, id).toBeDefined();
      // run or skip depends on the peers installed here; a run line names the sweep
      if (line!.includes(' run')) expect(line).toContain("threads 1,2 (each side's best kept)");
    }
  });

  it('--json prints the rows as a JSON array on stdout and writes nothing', async () => {
    const root = scratch();
    const data = smallData(root);
    const before = readdirSync(root).sort();
    const { output, io } = buffers();
    // full sizes (the 300-passage corpus is all of it): without --json they would go to docs/benchmarks.md
    const outcomes = await runPerfCommand(['--only', 'index', '--json', '--data', data], io);
    expect(outcomes).toEqual([{ benchmark: 'index', status: 'ran' }]);
    expect(readdirSync(root).sort()).toEqual(before);
    const rows = JSON.parse(output.stdout) as PerfJsonRow[];
    expect(Array.isArray(rows)).toBe(true);
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(Object.keys(row)).toEqual(
      expect.arrayContaining(['id', 'what', 'sr1', 'peer', 'ratio', 'unit', 'command', 'date', 'machine']),
    );
    expect(row.id).toBe('index-build');
    expect(typeof row.sr1).toBe('number');
    expect(row.sr1).toBeGreaterThan(0);
    expect([row.peer, row.ratio, row.unit]).toEqual([null, null, 's']);
    expect(row.command).toBe(`npx sr1-bench perf --only index --data ${data}`);
    expect(row.what).toContain('of the 300-passage shared corpus');
    // the progress and the markdown rows go to stderr, so stdout stays one JSON document
    expect(output.stderr).toContain('index: running');
    expect(output.stdout).not.toContain(SECTION_BEGIN);
  });

  it('measures the index build and merges its row into the section, keeping history and other rows', async () => {
    const root = scratch();
    const data = smallData(root);
    const out = join(root, 'benchmarks.md');
    const oldTrain = {
      benchmark: 'train' as const,
      id: 'train-step',
      what: 'Training tokens/s (an earlier run)',
      command: '`npx sr1-bench perf --only train`',
      sr1: '3,644 tok/s',
      peer: '2,367 tok/s',
      ratio: '1.54',
      date: '2026-11-25',
      machine: 'CPU X, 2 cores, load 4.00 → 5.00, Node v20.20.2, ORT 1.30.0',
    };
    const oldIndex = {
      ...oldTrain,
      benchmark: 'index' as const,
      id: 'index-build',
      what: 'old index row',
      ratio: '—',
    };
    oldIndex.command = '`npx sr1-bench perf --only index`';
    const history =
      '## History\n\n| what | command | sr1 | peer | ratio | date |\n| a | `b` | 1 | 2 | 0.50 | 2026-11-25 |\n';
    writeFileSync(
      out,
      `# Benchmarks\n\nIntro.\n\n${renderSection([oldTrain, oldIndex], [], '2026-11-25')}\n\n${history}`,
    );

    const { output, io } = buffers();
    const outcomes = await runPerfCommand(['--only', 'index', '--quick', '--data', data, '--out', out], io);
    expect(outcomes).toEqual([{ benchmark: 'index', status: 'ran' }]);

    const written = readFileSync(out, 'utf8');
    expect(written.startsWith(`# Benchmarks\n\nIntro.\n\n${SECTION_BEGIN}`)).toBe(true);
    expect(written.endsWith(history)).toBe(true);
    const rows = readSectionRows(written, out);
    expect(rows.map((row) => row.benchmark)).toEqual(['train', 'index']);
    expect(rows.map((row) => row.id)).toEqual(['train-step', 'index-build']);
    expect(rows[0]).toEqual(oldTrain);
    const index = rows[1]!;
    expect(index.what).toBe(
      '@sr1/retriever index build (document store + BM25 + hashing-512 vectors + HNSW M 16) of the first 300 passages of the shared corpus',
    );
    expect(index.command).toBe(`\`npx sr1-bench perf --only index --quick --data ${data}\``);
    expect(index.sr1).toMatch(/^\d[\d.,]* s$/);
    expect([index.peer, index.ratio]).toEqual(['—', '—']);
    expect(index.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(index.machine).toMatch(/, load \d+\.\d\d → \d+\.\d\d, Node v\d+\.\d+\.\d+, ORT /);
    expect(written).toContain(`Last run ${index.date}: ran index.`);
    expect(output.stderr).toContain(formatRow(index));
  });
});
