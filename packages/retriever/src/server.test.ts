import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex, loadIndex, type RetrievalIndex } from './index-folder.js';
import { HttpRetriever, InProcessRetriever } from './retriever.js';
import { startServer } from './server.js';
import { sampleCorpus } from './test-corpus.js';

const sample = sampleCorpus(250);
let index: RetrievalIndex;
let server: Awaited<ReturnType<typeof startServer>>;

beforeAll(async () => {
  await buildIndex({
    corpus: sample.file,
    out: join(sample.dir, 'index'),
    kind: 'hybrid',
    encoder: { type: 'hashing', dimension: 64 },
  });
  index = await loadIndex(join(sample.dir, 'index'));
  server = await startServer({ index, port: 0, bodyLimit: 64 * 1024 });
});
afterAll(async () => {
  await server?.close();
  await index?.close();
  rmSync(sample.dir, { recursive: true, force: true });
});

async function post(
  body: string,
  contentType = 'application/json',
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${server.url}/retrieve`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body,
  });
  return { status: response.status, json: await response.json() };
}

describe('POST /retrieve', () => {
  it('binds to 127.0.0.1 by default', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("answers the reference client's exact request with scored documents", async () => {
    // search_r1/llm_agent/generation.py: requests.post(url, json={"queries", "topk", "return_scores": True})
    const { status, json } = await post(
      JSON.stringify({ queries: ['moon landing', 'Hollies ballad'], topk: 3, return_scores: true }),
    );
    expect(status).toBe(200);
    const result = (json as { result: { document: { id: string; contents: string }; score: number }[][] })
      .result;
    expect(result).toHaveLength(2);
    for (const list of result) {
      expect(list).toHaveLength(3);
      for (const item of list) {
        expect(Object.keys(item)).toEqual(['document', 'score']);
        expect(Object.keys(item.document)).toEqual(['id', 'contents']);
        expect(typeof item.score).toBe('number');
      }
    }
    expect(result[0]![0]!.document.id).toBe('0');
    // what the reference agent does with it
    expect(result[0]![0]!.document.contents.split('\n')[0]).toBe('"Moon landing"');
  });

  it.each([1, 2, 5])('returns bare documents for return_scores false with %i queries', async (count) => {
    const queries = ['moon', 'ballad', 'music', 'film', 'river'].slice(0, count);
    const { status, json } = await post(JSON.stringify({ queries, topk: 2, return_scores: false }));
    expect(status).toBe(200);
    const result = (json as { result: unknown[][] }).result;
    expect(result).toHaveLength(count);
    for (const list of result) {
      expect(list).toHaveLength(2);
      for (const item of list) expect(Object.keys(item as object)).toEqual(['id', 'contents']);
    }
  });

  it('uses topk 3 and no scores when they are omitted', async () => {
    const { json } = await post(JSON.stringify({ queries: ['moon'] }));
    const list = (json as { result: unknown[][] }).result[0]!;
    expect(list).toHaveLength(3);
    expect(Object.keys(list[0] as object)).toEqual(['id', 'contents']);
  });

  it('answers an empty batch with an empty result', async () => {
    expect(await post(JSON.stringify({ queries: [] }))).toEqual({ status: 200, json: { result: [] } });
  });

  it.each([
    ['malformed JSON', '{"queries": ["a"', 400],
    ['a JSON array', '["a"]', 400],
    ['missing queries', '{"topk": 3}', 400],
    ['queries not a list', '{"queries": "moon"}', 400],
    ['a query not a string', '{"queries": ["moon", 3]}', 400],
    ['topk zero', '{"queries": ["moon"], "topk": 0}', 400],
    ['topk negative', '{"queries": ["moon"], "topk": -2}', 400],
    ['topk fractional', '{"queries": ["moon"], "topk": 2.5}', 400],
    ['topk a string', '{"queries": ["moon"], "topk": "3"}', 400],
    ['topk absurd', '{"queries": ["moon"], "topk": 1000000000}', 400],
    ['return_scores not boolean', '{"queries": ["moon"], "return_scores": "yes"}', 400],
    ['oversized body', JSON.stringify({ queries: Array.from({ length: 2000 }, () => 'x'.repeat(64)) }), 413],
  ])('rejects %s with a 4xx JSON error', async (_name, body, status) => {
    const answer = await post(body);
    expect(answer.status).toBe(status);
    expect(answer.json).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
  });

  it('rejects a non-JSON content type and unknown routes, and is still healthy afterwards', async () => {
    expect((await post('queries=moon', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', passages: 250, kind: 'hybrid' });
  });

  it('the HTTP client returns what the in-process retriever returns', async () => {
    const queries = ['moon landing', 'Hollies ballad', 'a question about nothing in particular'];
    const viaHttp = await new HttpRetriever({ url: server.url }).search(queries, 4);
    const inProcess = await new InProcessRetriever(index).search(queries, 4);
    expect(viaHttp).toEqual(inProcess);
  });
});
