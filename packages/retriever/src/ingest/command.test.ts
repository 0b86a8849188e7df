// The built CLI end to end (issue #17, items 1–3): `ingest` prints its summary (files, passages,
// skipped and why), `serve --cache N` serves the ingested folder with sources, and GET /stats
// counts the cache's hits over real HTTP.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sr1-ingest-cli-'));
const docs = join(work, 'docs');
const out = join(work, 'index');
let server: ChildProcess | undefined;
afterAll(() => {
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

describe('sr1-retriever ingest (built CLI)', () => {
  it('answers --help and -h with exit 0', () => {
    for (const command of [['ingest'], ['mcp']]) {
      for (const flag of ['--help', '-h']) {
        const result = run([...command, flag]);
        expect(result.status).toBe(0);
        expect(result.stdout).toContain(`sr1-retriever ${command[0]}`);
      }
    }
  });

  it('ingests a folder and ends with the summary; re-ingest reports what changed', () => {
    cpSync(FIXTURES, docs, { recursive: true });
    writeFileSync(join(docs, 'scan.pdf'), 'not a pdf at all');
    const first = run(['ingest', '--docs', docs, '--out', out, '--quiet']);
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^ingested 5 files → 7 documents, \d+ passages \(bm25\) → /);
    expect(first.stdout).toContain('parsed 5, unchanged 0, removed 0, skipped 1');
    expect(first.stdout).toMatch(/skipped: scan\.pdf: not a readable PDF/);

    rmSync(join(docs, 'faq.txt'));
    const second = run(['ingest', '--docs', docs, '--out', out]);
    expect(second.status).toBe(0);
    expect(second.stdout).toContain('  unchanged safety-manual.pdf\n');
    expect(second.stdout).toContain('parsed 0, unchanged 4, removed 1, skipped 1');
    expect(second.stdout).toContain('removed: faq.txt');
  });

  it('query prints the source under each hit', () => {
    const result = run(['query', '--index', out, '--topk', '1', 'who do I call about a chemical spill']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/source: safety-manual\.pdf \(p\. 2, chars \d+–\d+\)/);
  });

  it('names the flag of a usage mistake in one line, exit 2', () => {
    const result = run(['ingest', '--docs', docs, '--out', out, '--words', '50', '--overlap', '50']);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('--overlap');
  });

  it('serve --cache serves the ingested index with sources and counts cache hits at /stats', async () => {
    server = spawn(process.execPath, [CLI, 'serve', '--index', out, '--port', '0', '--cache', '100'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: server.stdout! });
    const url = await new Promise<string>((resolve) => {
      lines.on('line', (line) => {
        const match = /at (http:\/\/\S+)\/retrieve/.exec(line);
        if (match !== null) resolve(match[1]!);
      });
    });
    const ask = async (queries: string[]) => {
      const response = await fetch(`${url}/retrieve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries, topk: 1, return_scores: true }),
      });
      return ((await response.json()) as { result: { source: { path: string } }[][] }).result;
    };
    const group = Array.from({ length: 5 }, () => 'when does the on-call rotation change');
    const answers = await ask(group);
    expect(answers.map((list) => list[0]!.source.path)).toEqual(Array(5).fill('onboarding.md'));
    await ask(group);
    const stats = (await (await fetch(`${url}/stats`)).json()) as { cache: { hits: number; misses: number } };
    expect(stats.cache).toMatchObject({ hits: 9, misses: 1 });
  });
});
