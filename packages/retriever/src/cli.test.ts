// The built `sr1-retriever` CLI: --help/-h on every command (exit 0), and every error as one typed
// line on stderr (exit 2), never a stack trace (issue #12, item 10).

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex } from './index-folder.js';
import { sampleCorpus } from './test-corpus.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const sample = sampleCorpus(40);
const bm25Dir = join(sample.dir, 'bm25');
let busy: Server;
let busyPort = 0;

beforeAll(async () => {
  await buildIndex({ corpus: sample.file, out: bm25Dir, kind: 'bm25' });
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(() => {
  busy?.close();
  rmSync(sample.dir, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('sr1-retriever --help', () => {
  it.each([
    [[]],
    [['index']],
    [['serve']],
    [['query']],
    [['bench']],
    [['bench', 'quality']],
    [['bench', 'server']],
  ])('%j answers --help and -h with exit 0', (command) => {
    for (const flag of ['--help', '-h']) {
      const result = run([...command, flag]);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('sr1-retriever');
      expect(result.stderr).toBe('');
    }
  });
});

describe('sr1-retriever errors are one typed line', () => {
  const fileOut = join(sample.dir, 'a-file');
  const dups = join(sample.dir, 'dups.jsonl');
  writeFileSync(fileOut, 'data');
  writeFileSync(
    dups,
    '{"id": "1", "contents": "a"}\n{"id": "2", "contents": "b"}\n{"id": "1", "contents": "c"}\n',
  );
  mkdirSync(join(sample.dir, 'not-an-index'), { recursive: true });
  writeFileSync(join(sample.dir, 'not-an-index', 'keep.txt'), 'x');

  it.each([
    [['serve', '--index', bm25Dir, '--port', 'eighty'], "flag --port: expected an integer, got 'eighty'"],
    [['serve', '--index', bm25Dir, '--port', '70000'], 'flag --port: must be ≤ 65535'],
    [['serve', '--index', bm25Dir, '--port', 'BUSY'], 'EADDRINUSE: address already in use 127.0.0.1:'],
    [['serve', '--index', bm25Dir, '--method', 'dense'], `has no dense part`],
    [['serve', '--index', bm25Dir, '--topk', '5000'], 'flag --topk: must be ≤ 1000'],
    [['serve', '--index', join(sample.dir, 'nowhere')], 'no manifest.json'],
    [['index', '--corpus', sample.file, '--out', fileOut, '--kind', 'bm25'], 'is a file'],
    [
      ['index', '--corpus', sample.file, '--out', join(sample.dir, 'not-an-index'), '--kind', 'bm25'],
      '--force',
    ],
    [
      ['index', '--corpus', dups, '--out', join(sample.dir, 'dup-index'), '--kind', 'bm25'],
      `${dups}:3: field 'id': duplicate id '1'`,
    ],
    [
      [
        'index',
        '--corpus',
        join(sample.dir, 'missing.jsonl'),
        '--out',
        join(sample.dir, 'x'),
        '--kind',
        'bm25',
      ],
      'missing.jsonl',
    ],
    [
      ['index', '--corpus', sample.file, '--out', join(sample.dir, 'y'), '--kind', 'colbert'],
      "flag --kind: unknown value 'colbert'",
    ],
    [['query', '--index', bm25Dir], 'QUESTION'],
    [['bench', 'speed', '--index', bm25Dir], "unknown benchmark 'speed'"],
    [['nope'], "unknown command 'nope'"],
  ])('%j', (args, message) => {
    const result = run(args.map((arg) => (arg === 'BUSY' ? String(busyPort) : arg)));
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('query answers from an index', () => {
    const result = run(['query', '--index', bm25Dir, '--topk', '1', '--json', 'moon landing']);
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)[0][0].id).toBe('0');
  });
});
