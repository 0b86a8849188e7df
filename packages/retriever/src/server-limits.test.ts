// Availability of the /retrieve server (issue #12, items 6 and 10): one request's work and response
// are bounded by a budget derived from the heap (413 naming the limit), slow clients time out and
// cannot hold up shutdown, a method the index cannot answer and a --topk above the cap fail at start.

import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RetrieverInputError } from './errors.js';
import { buildIndex, loadIndex, type RetrievalIndex } from './index-folder.js';
import { resultBudget, startServer } from './server.js';
import { sampleCorpus } from './test-corpus.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const sample = sampleCorpus(250);
const bm25Dir = join(sample.dir, 'bm25');
let index: RetrievalIndex;

beforeAll(async () => {
  await buildIndex({ corpus: sample.file, out: bm25Dir, kind: 'bm25' });
  index = await loadIndex(bm25Dir);
});
afterAll(async () => {
  await index?.close();
  rmSync(sample.dir, { recursive: true, force: true });
});

/** Starts `sr1-retriever serve` as a child; resolves with its URL once it listens. */
function serveChild(nodeArgs: string[], args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, CLI, 'serve', '--index', bm25Dir, '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const url = /(http:\/\/[^\s]+)\/retrieve/.exec(output)?.[1];
      if (url !== undefined) resolve({ child, url });
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
}

describe('per-request budget', () => {
  it('is derived from the heap limit and the average passage size', () => {
    const small = resultBudget({ heapLimitBytes: 256 * 2 ** 20, averagePassageBytes: 700 });
    const large = resultBudget({ heapLimitBytes: 4096 * 2 ** 20, averagePassageBytes: 700 });
    expect(large).toBeGreaterThan(small * 15);
    // the overload (512 queries × topk 1000 with a 256 MB heap) is over budget; the
    // paper's training batch (512 queries × topk 3) is within it
    expect(small).toBeLessThan(512 * 1000);
    expect(small).toBeGreaterThan(512 * 3);
  });

  it('an over-budget request gets 413 naming the limit, and a small-heap server stays up', async () => {
    const { child, url } = await serveChild(['--max-old-space-size=64'], []);
    try {
      const queries = Array.from({ length: 512 }, (_, i) => `the ${i} history of the river music film`);
      const response = await fetch(`${url}/retrieve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries, topk: 1000, return_scores: true }),
      });
      expect(response.status).toBe(413);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('request_too_large');
      expect(body.error.message).toMatch(/512 queries × topk 1000 = 512000 results; at most \d+ per request/);
      const fine = await fetch(`${url}/retrieve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queries: queries.slice(0, 8), topk: 3 }),
      });
      expect(fine.status).toBe(200);
      expect(((await fine.json()) as { result: unknown[] }).result).toHaveLength(8);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('a configured budget is enforced on queries × topk and on the response bytes', async () => {
    const server = await startServer({ index, port: 0, maxResultsPerRequest: 10, maxResponseBytes: 4000 });
    try {
      const post = async (body: unknown) => {
        const response = await fetch(`${server.url}/retrieve`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        return { status: response.status, json: (await response.json()) as { error?: { message: string } } };
      };
      expect((await post({ queries: ['moon landing'], topk: 1 })).status).toBe(200);
      const over = await post({ queries: ['moon', 'film', 'river'], topk: 4 });
      expect(over.status).toBe(413);
      expect(over.json.error?.message).toContain('at most 10 per request');
      const bytes = await post({ queries: ['moon landing', 'music film'], topk: 5 }); // 10 passages, ~7 KB
      expect(bytes.status).toBe(413);
      expect(bytes.json.error?.message).toContain('at most 4000 bytes');
    } finally {
      await server.close();
    }
  });
});

describe('server start-up checks', () => {
  it('sets request and header timeouts', async () => {
    const server = await startServer({ index, port: 0 });
    expect(server.server.requestTimeout).toBeGreaterThan(0);
    expect(server.server.headersTimeout).toBeGreaterThan(0);
    await server.close();
  });

  it('refuses a dense method on a BM25-only index at start', async () => {
    await expect(startServer({ index, port: 0, method: 'dense' })).rejects.toThrow(RetrieverInputError);
    await expect(startServer({ index, port: 0, method: 'hybrid' })).rejects.toThrow(/has no dense part/);
  });

  it('a default topk above the per-request cap is refused, never raising the cap', async () => {
    await expect(startServer({ index, port: 0, defaultTopk: 5000 })).rejects.toThrow(
      /topk.*5000.*at most 1000/,
    );
  });
});

describe('shutdown', () => {
  it('SIGTERM stops the server promptly although a slow client holds a request open', async () => {
    const { child, url } = await serveChild([], []);
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    // headers complete, body promised but never sent
    socket.write(
      'POST /retrieve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"q',
    );
    const closedByServer = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    await closedByServer;
  });
});
