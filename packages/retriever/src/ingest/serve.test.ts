// An ingested index behind the /retrieve server (issue #17, item 2): each result carries its
// passage's source next to `document`; a reference client's fields are unchanged.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadIndex, type RetrievalIndex } from '../index-folder.js';
import { HttpRetriever, InProcessRetriever } from '../retriever.js';
import { startServer } from '../server.js';
import { ingestFolder } from './ingest.js';

const FIXTURES = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sr1-ingest-serve-'));
let index: RetrievalIndex;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  await ingestFolder({ docs: FIXTURES, out: join(work, 'index'), kind: 'bm25' });
  index = await loadIndex(join(work, 'index'));
  server = await startServer({ index, port: 0 });
});
afterAll(async () => {
  await server?.close();
  await index?.close();
  rmSync(work, { recursive: true, force: true });
});

async function retrieve(body: unknown): Promise<unknown> {
  const response = await fetch(`${server.url}/retrieve`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { result: unknown }).result;
}

describe('/retrieve over an ingested index', () => {
  it('puts the source next to document and score', async () => {
    const [list] = (await retrieve({
      queries: ['when does the on-call rotation change'],
      topk: 2,
      return_scores: true,
    })) as {
      document: { id: string; contents: string };
      score: number;
      source: Record<string, unknown>;
    }[][];
    const top = list![0]!;
    expect(Object.keys(top)).toEqual(['document', 'score', 'source']);
    expect(Object.keys(top.document)).toEqual(['id', 'contents']);
    expect(top.document.contents).toContain('The on-call rotation changes every Tuesday at 10:00.');
    expect(top.source).toEqual({
      path: 'onboarding.md',
      title: 'Harbor Lab onboarding',
      headingPath: ['Harbor Lab onboarding', 'On-call rotation'],
      start: expect.any(Number),
      end: expect.any(Number),
    });
  });

  it('without scores, the source rides inside the document object', async () => {
    const [list] = (await retrieve({ queries: ['cold room temperature'], topk: 1 })) as Record<
      string,
      unknown
    >[][];
    expect(Object.keys(list![0]!)).toEqual(['id', 'contents', 'source']);
    expect(list![0]!.source).toMatchObject({ path: 'faq.txt' });
  });

  it('HttpRetriever exposes the source on each hit', async () => {
    const [hits] = await new HttpRetriever({ url: server.url }).search(['backups kept for 35 days'], 1);
    expect(hits![0]!.source).toMatchObject({ path: 'policies/backups.html', headingPath: [] });
  });
});

describe('POST /documents: the open tool over HTTP', () => {
  it('returns the whole document of each passage id, null for an unknown id, as InProcessRetriever.open does', async () => {
    const client = new HttpRetriever({ url: server.url });
    const [hit] = (await client.search(['backups kept for 35 days'], 1))[0]!;
    const [opened, missing] = await client.open([hit!.id, 'no-such-id']);
    expect(missing).toBeNull();
    expect(opened).toMatchObject({ id: hit!.id, title: 'Backup policy | Harbor Lab intranet', whole: true });
    expect(opened!.source).toEqual(hit!.source);
    // source offsets index the opened text: the passage is exactly that slice
    expect(opened!.text.slice(opened!.source!.start, opened!.source!.end)).toBe(hit!.text);
    const local = new InProcessRetriever(index);
    expect(await local.open([hit!.id, 'no-such-id'])).toEqual([opened, null]);
    local.sources?.close(); // the index itself stays open for the server
  });

  it('answers a body without an ids list with a 400 naming the field', async () => {
    const response = await fetch(`${server.url}/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'x' }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('ids');
  });
});
