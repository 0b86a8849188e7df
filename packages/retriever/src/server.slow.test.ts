// The acceptance checks on the full shared corpus: the reference client's request (from Python
// `requests` when available), every bad input → 4xx, and 64 clients × 10,000 requests, 0 errors.

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readQuestions } from './bench/data.js';
import { buildIndex, loadIndex, type RetrievalIndex } from './index-folder.js';
import { startServer } from './server.js';
import { SHARED_DATA_DIR } from './test-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'sr1-slow-'));
let index: RetrievalIndex;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  await buildIndex({
    corpus: join(SHARED_DATA_DIR, 'corpus.jsonl'),
    out: join(dir, 'index'),
    kind: 'hybrid',
  });
  index = await loadIndex(join(dir, 'index'));
  server = await startServer({ index, port: 0 });
}, 600_000);
afterAll(async () => {
  await server?.close();
  await index?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('server over the full shared corpus', () => {
  it('serves the reference Python client', async () => {
    const python = '/usr/bin/python3';
    const script = fileURLToPath(new URL('../bench/reference_client_check.py', import.meta.url));
    let hasRequests = existsSync(python);
    if (hasRequests) {
      try {
        execFileSync(python, ['-c', 'import requests']);
      } catch {
        hasRequests = false;
      }
    }
    if (!hasRequests) {
      console.warn('python3 with requests not found; reference client check skipped');
      return;
    }
    // async: the server runs in this process, a synchronous child would deadlock it
    const { stdout } = await promisify(execFile)(python, [script, server.url], { encoding: 'utf8' });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true });
  });

  it('answers 64 concurrent clients × 10,000 requests with zero errors, and survives bad input', async () => {
    const questions = readQuestions(SHARED_DATA_DIR).map((question) => question.question);
    const bad = [
      '{"queries": [',
      '{"topk": 3}',
      '{"queries": "x"}',
      '{"queries": ["x"], "topk": 0}',
      '{"queries": ["x"], "topk": 99999999}',
    ];
    let next = 0;
    let errors = 0;
    let badRejected = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= 10_000) return;
          if (i % 1000 === 0) {
            const response = await fetch(`${server.url}/retrieve`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: bad[(i / 1000) % bad.length],
            });
            await response.text();
            if (response.status === 400) badRejected++;
          }
          const response = await fetch(`${server.url}/retrieve`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({
              queries: [questions[i % questions.length]],
              topk: 3,
              return_scores: true,
            }),
          });
          const body = (await response.json()) as { result?: unknown[][] };
          if (response.status !== 200 || body.result?.[0]?.length !== 3) errors++;
        }
      }),
    );
    expect(errors).toBe(0);
    expect(badRejected).toBe(10);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});
