// Data safety of index builds (issue #12, items 1–3): a build never destroys its own input, a
// failed or killed rebuild leaves the old index servable, and a server keeps answering with the
// old passages while the folder is rebuilt under it.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildIndex, loadIndex } from './index-folder.js';
import { startServer } from './server.js';
import { sampleCorpus } from './test-corpus.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const sample = sampleCorpus(400);
afterAll(() => rmSync(sample.dir, { recursive: true, force: true }));

/** A corpus file holding lines [from, to) of the sample. */
function corpusOf(name: string, from: number, to: number): string {
  const file = join(sample.dir, name);
  writeFileSync(file, `${sample.lines.slice(from, to).join('\n')}\n`);
  return file;
}

/** What a search over the folder answers now: ids and contents of the top passages. */
async function answers(dir: string, queries: string[]): Promise<string> {
  const index = await loadIndex(dir);
  try {
    const ranked = await index.search(queries, 3);
    return JSON.stringify(ranked.map((hits) => hits.map((hit) => index.docs.rawJson(hit.index))));
  } finally {
    await index.close();
  }
}

const QUERIES = ['moon landing', 'Hollies ballad', 'river in europe', 'film director'];

function leftovers(dir: string): string[] {
  const parent = join(dir, '..');
  return readdirSync(parent).filter((name) => name.includes('.sr1-'));
}

describe('index builds never destroy data', () => {
  it('rebuilding a folder from its own docs.jsonl keeps every passage', async () => {
    const out = join(sample.dir, 'self');
    await buildIndex({ corpus: corpusOf('self.jsonl', 0, 120), out, kind: 'bm25' });
    const before = readFileSync(join(out, 'docs.jsonl'), 'utf8');
    const manifest = await buildIndex({ corpus: join(out, 'docs.jsonl'), out, kind: 'bm25' });
    expect(manifest.corpus.passages).toBe(120);
    expect(readFileSync(join(out, 'docs.jsonl'), 'utf8')).toBe(before);
    expect((await loadIndex(out)).size).toBe(120);
  });

  it('refuses a corpus inside a non-index --out even with --force', async () => {
    const out = join(sample.dir, 'holder');
    mkdirSync(out);
    const corpus = join(out, 'my-corpus.jsonl');
    writeFileSync(corpus, `${sample.lines.slice(0, 10).join('\n')}\n`);
    await expect(buildIndex({ corpus, out, kind: 'bm25', force: true })).rejects.toThrow(/inside/);
    expect(readFileSync(corpus, 'utf8').split('\n')).toHaveLength(11);
  });

  it('a rebuild that fails on a bad corpus leaves the old index intact and servable', async () => {
    const out = join(sample.dir, 'failing');
    await buildIndex({
      corpus: corpusOf('good.jsonl', 0, 150),
      out,
      kind: 'hybrid',
      encoder: { type: 'hashing', dimension: 32 },
    });
    const before = await answers(out, QUERIES);
    const manifestBefore = readFileSync(join(out, 'manifest.json'), 'utf8');
    const bad = join(sample.dir, 'bad.jsonl');
    writeFileSync(bad, `${sample.lines.slice(150, 300).join('\n')}\n{"id": "x", "contents": \n`);
    await expect(
      buildIndex({ corpus: bad, out, kind: 'hybrid', encoder: { type: 'hashing', dimension: 32 } }),
    ).rejects.toThrow(/bad\.jsonl:151: not valid JSON/);
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).toBe(manifestBefore);
    expect(await answers(out, QUERIES)).toBe(before);
    expect(leftovers(out)).toEqual([]);
  });

  it('an index build killed with SIGKILL mid-read leaves the old index intact; the next build cleans up', async () => {
    const out = join(sample.dir, 'killed');
    await buildIndex({ corpus: corpusOf('first.jsonl', 0, 150), out, kind: 'bm25' });
    const before = await answers(out, QUERIES);
    // A named pipe as the corpus: the build is certainly mid-read while the pipe stays open.
    const fifo = join(sample.dir, 'corpus.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const child = spawn(
      process.execPath,
      [CLI, 'index', '--corpus', fifo, '--out', out, '--kind', 'bm25', '--quiet'],
      {
        stdio: 'ignore',
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.once('exit', (_code, signal) => resolve(signal)),
    );
    const { createWriteStream } = await import('node:fs');
    const writer = createWriteStream(fifo);
    await new Promise<void>((resolve) =>
      writer.write(`${sample.lines.slice(150, 250).join('\n')}\n`, () => resolve()),
    );
    // the child has read (part of) what we wrote: it is inside the build now
    await new Promise<void>((resolve) => {
      const poll = () =>
        (existsSync(join(out, 'manifest.json')) && statSync(join(out, 'manifest.json')).size === 0) ||
        leftovers(out).length > 0
          ? resolve()
          : setTimeout(poll, 20);
      poll();
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    writer.destroy();
    expect(await answers(out, QUERIES)).toBe(before);
    expect(leftovers(out).length).toBeGreaterThan(0); // the killed build's temp folder, beside --out
    await buildIndex({ corpus: corpusOf('second.jsonl', 150, 300), out, kind: 'bm25' });
    expect(leftovers(out)).toEqual([]);
    expect((await loadIndex(out)).size).toBe(150);
  });

  it('refuses to replace a folder that is not an index without force, naming --force', async () => {
    const out = join(sample.dir, 'notes');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'keep me');
    const corpus = corpusOf('small.jsonl', 0, 20);
    await expect(buildIndex({ corpus, out, kind: 'bm25' })).rejects.toThrow(/--force/);
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('keep me');
    // an index folder with a file that is not part of an index is not replaced either
    const index = join(sample.dir, 'index-plus');
    await buildIndex({ corpus, out: index, kind: 'bm25' });
    writeFileSync(join(index, 'README.txt'), 'mine');
    await expect(buildIndex({ corpus, out: index, kind: 'bm25' })).rejects.toThrow(/README\.txt.*--force/);
    await buildIndex({ corpus, out: index, kind: 'bm25', force: true });
    expect(existsSync(join(index, 'README.txt'))).toBe(false);
    // --out naming a file is a typed error, and the file stays
    const file = join(sample.dir, 'a-file');
    writeFileSync(file, 'data');
    await expect(buildIndex({ corpus, out: file, kind: 'bm25', force: true })).rejects.toThrow(/is a file/);
    expect(readFileSync(file, 'utf8')).toBe('data');
  });

  it('a server keeps answering with the old passages, as valid JSON, while its folder is rebuilt', async () => {
    const out = join(sample.dir, 'live');
    await buildIndex({
      corpus: corpusOf('old.jsonl', 0, 200),
      out,
      kind: 'hybrid',
      encoder: { type: 'hashing', dimension: 32 },
    });
    const index = await loadIndex(out, { postingsInMemory: false });
    const server = await startServer({ index, port: 0 });
    try {
      const ask = async () => {
        const response = await fetch(`${server.url}/retrieve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ queries: QUERIES, topk: 3, return_scores: true }),
        });
        expect(response.status).toBe(200);
        return JSON.parse(await response.text()) as unknown;
      };
      const before = await ask();
      // a different corpus of a different size under the same folder
      await buildIndex({
        corpus: corpusOf('new.jsonl', 200, 400),
        out,
        kind: 'hybrid',
        encoder: { type: 'hashing', dimension: 32 },
      });
      expect(await ask()).toEqual(before);
      const ids = (before as { result: { document: { id: string } }[][] }).result
        .flat()
        .map((hit) => Number(hit.document.id));
      expect(Math.max(...ids)).toBeLessThan(200);
    } finally {
      await server.close();
      await index.close();
    }
  });
});
