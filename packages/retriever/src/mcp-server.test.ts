// `sr1-retriever mcp` tested with the MCP SDK's own client (issue #17, item 7): the built CLI is
// spawned over stdio by StdioClientTransport, and its `search` and `open` tools are called.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIndex } from './index-folder.js';
import { ingestFolder } from './ingest/ingest.js';
import { sampleCorpus } from './test-corpus.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./ingest/__fixtures__/docs/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sr1-mcp-'));
const sample = sampleCorpus(60);

beforeAll(async () => {
  await ingestFolder({ docs: FIXTURES, out: join(work, 'docs-index'), kind: 'bm25' });
  await buildIndex({ corpus: sample.file, out: join(work, 'wiki-index'), kind: 'bm25' });
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(sample.dir, { recursive: true, force: true });
});

async function connect(index: string, ...flags: string[]): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp', '--index', index, ...flags],
    stderr: 'pipe',
  });
  const client = new Client({ name: 'sr1-mcp-test', version: '0.0.0' });
  await client.connect(transport);
  return client;
}

interface SearchResult {
  id: string;
  title: string;
  text: string;
  score: number;
  source?: { path: string; headingPath: string[]; start: number; end: number; page?: number };
}

describe('sr1-retriever mcp', () => {
  it('lists search and open with their argument schemas', async () => {
    const client = await connect(join(work, 'docs-index'));
    try {
      expect(client.getServerVersion()?.name).toBe('sr1-retriever');
      const { tools } = await client.listTools();
      expect(tools.map((tool) => tool.name)).toEqual(['search', 'open']);
      const search = tools[0]!;
      expect(search.inputSchema.required).toEqual(['query']);
      expect(Object.keys(search.inputSchema.properties ?? {})).toEqual(['query', 'topk']);
      expect(tools[1]!.inputSchema.required).toEqual(['id']);
    } finally {
      await client.close();
    }
  });

  it('search returns passages with ids and sources; open returns the whole document', async () => {
    const client = await connect(join(work, 'docs-index'));
    try {
      const result = await client.callTool({
        name: 'search',
        arguments: { query: 'carry liquid nitrogen dewar in a lift', topk: 2 },
      });
      expect(result.isError).toBeFalsy();
      const results = (result.structuredContent as { results: SearchResult[] }).results;
      expect(results).toHaveLength(2);
      const top = results[0]!;
      expect(top.source).toMatchObject({ path: 'safety-manual.pdf', page: 2 });
      expect(top.text).toContain('Never carry a dewar in a lift');
      const text = (result.content as { type: string; text: string }[])[0]!.text;
      expect(text).toContain(`id: ${top.id}`);
      expect(text).toContain('source: safety-manual.pdf (p. 2, chars');

      const opened = await client.callTool({ name: 'open', arguments: { id: top.id } });
      const document = opened.structuredContent as { text: string; whole: boolean; title: string };
      expect(document.whole).toBe(true);
      expect(document.title).toBe('Harbor Lab safety manual');
      expect(document.text).toContain('The assembly point is the car park behind building C.'); // page 1
      expect(document.text.slice(top.source!.start, top.source!.end)).toBe(top.text);

      const defaults = await client.callTool({ name: 'search', arguments: { query: 'backup restore' } });
      expect((defaults.structuredContent as { results: SearchResult[] }).results).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  it('answers bad arguments and unknown ids as tool errors, and keeps serving', async () => {
    const client = await connect(join(work, 'docs-index'), '--max-topk', '5');
    try {
      const unknown = await client.callTool({ name: 'open', arguments: { id: 'no-such-id' } });
      expect(unknown.isError).toBe(true);
      expect((unknown.content as { text: string }[])[0]!.text).toMatch(/no passage with id 'no-such-id'/);
      const tooMany = await client
        .callTool({ name: 'search', arguments: { query: 'x', topk: 6 } })
        .catch((error: unknown) => ({ isError: true, content: [{ text: String(error) }] }));
      expect(tooMany.isError).toBe(true);
      expect((tooMany.content as { text: string }[])[0]!.text).toMatch(/topk/);
      const ok = await client.callTool({ name: 'search', arguments: { query: 'pager escalates', topk: 1 } });
      expect((ok.structuredContent as { results: SearchResult[] }).results[0]!.source!.path).toMatch(
        /onboarding\.md|glossary\.jsonl/,
      );
    } finally {
      await client.close();
    }
  });

  it('over a passage corpus index, open returns the passage itself', async () => {
    const client = await connect(join(work, 'wiki-index'));
    try {
      const result = await client.callTool({ name: 'search', arguments: { query: 'moon landing', topk: 1 } });
      const [top] = (result.structuredContent as { results: SearchResult[] }).results;
      expect(top!.source).toBeUndefined();
      const opened = await client.callTool({ name: 'open', arguments: { id: top!.id } });
      expect(opened.structuredContent).toMatchObject({ id: top!.id, whole: false, text: top!.text });
    } finally {
      await client.close();
    }
  });

  it('answers every request piped on stdin before it exits at end of input', () => {
    const messages = [
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'sh', version: '0' } },
      },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      {
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'search', arguments: { query: 'cold room', topk: 1 } },
      },
    ];
    const result = spawnSync(process.execPath, [CLI, 'mcp', '--index', join(work, 'docs-index')], {
      input: messages.map((message) => JSON.stringify(message)).join('\n') + '\n',
      encoding: 'utf8',
    });
    expect(result.status).toBe(0);
    const answers = result.stdout
      .trim()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { id: number; result: { structuredContent?: { results: SearchResult[] } } },
      );
    expect(answers.map((answer) => answer.id)).toEqual([1, 2]);
    expect(answers[1]!.result.structuredContent!.results[0]!.source!.path).toBe('faq.txt');
  });
});
