// `sr1-retriever mcp`: an index folder as a Model Context Protocol server over stdio, built with the
// official TypeScript SDK, so agent apps can search a private sr1 index directly. Two tools:
// `search` ({ query, topk? } → passages with ids and sources) and `open` ({ id } → the whole
// document the passage came from for an ingested index, the passage itself otherwise).

import { createRequire } from 'node:module';
import { type CliIo, type CommandSpec, importOptional, parseCommand, type SubCommand } from '@sr1/core';
import { RetrieverInputError } from './errors.js';
import type { PassageSource } from './ingest/sources.js';
import { InProcessRetriever, type SearchHit } from './retriever.js';

/**
 * The MCP server `createMcpServer` returns: connect it to a transport of the official SDK (for
 * example `new StdioServerTransport()` from `@modelcontextprotocol/sdk/server/stdio.js`). Typed
 * without naming the SDK, so that using `@sr1/retriever` does not need it installed.
 */
export interface McpSearchServer {
  /** Starts answering on `transport` (an SDK `Transport`). */
  connect(transport: object): Promise<void>;
  /** Closes the transport; calls in flight are dropped. */
  close(): Promise<void>;
}

const MCP_FEATURE = 'the MCP server (sr1-retriever mcp)';
const loadSdkServer = () =>
  importOptional(
    '@modelcontextprotocol/sdk',
    MCP_FEATURE,
    () => import('@modelcontextprotocol/sdk/server/mcp.js'),
  );
const loadZod = () => importOptional('zod', MCP_FEATURE, () => import('zod'));

/** Options of `createMcpServer`. */
export interface McpServerOptions {
  /** topk when a call gives none. */
  defaultTopk?: number;
  /** Largest topk a call may ask for. */
  maxTopk?: number;
}

export const MCP_DEFAULTS = {
  defaultTopk: 3, // the paper's and the /retrieve server's default
  maxTopk: 50, // an agent reads what it asks for; more than 50 passages floods its context
  maxQueryLength: 8192, // as the /retrieve server: generated queries are a few dozen characters
} as const;

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** How a source reads in a tool's text answer: `path › heading › heading (p. N, chars a–b)`. */
export function describeSource(source: PassageSource): string {
  const where = [source.path, ...source.headingPath.filter((heading) => heading !== source.title)].join(
    ' › ',
  );
  const page =
    source.page !== undefined
      ? `p. ${source.page}, `
      : source.line !== undefined
        ? `line ${source.line}, `
        : '';
  return `${where} (${page}chars ${source.start}–${source.end})`;
}

// Tool calls running now, per server: a client that pipes its requests and closes stdin still gets
// every answer, because shutdown waits for these to finish.
const callsInFlight = new WeakMap<object, { count: number }>();

function formatHit(hit: SearchHit, rank: number): string {
  const lines = [`[${rank + 1}] id: ${hit.id}  score: ${hit.score.toFixed(4)}`];
  if (hit.source !== undefined) lines.push(`source: ${describeSource(hit.source)}`);
  lines.push(`title: ${hit.title}`, hit.text);
  return lines.join('\n');
}

/**
 * An MCP server (not yet connected) whose `search` and `open` tools answer from `retriever`. The
 * SDK and zod are loaded here, on first use: importing `@sr1/retriever` does not pay for them.
 */
export async function createMcpServer(
  retriever: InProcessRetriever,
  options: McpServerOptions = {},
): Promise<McpSearchServer> {
  const [{ McpServer }, { z }] = await Promise.all([loadSdkServer(), loadZod()]);
  const sourceSchema = z.object({
    path: z.string(),
    title: z.string(),
    headingPath: z.array(z.string()),
    start: z.number().int(),
    end: z.number().int(),
    page: z.number().int().optional(),
    line: z.number().int().optional(),
  });
  const calls = { count: 0 };
  const tracked =
    <A, R>(handler: (args: A) => Promise<R>) =>
    async (args: A): Promise<R> => {
      calls.count++;
      try {
        return await handler(args);
      } finally {
        calls.count--;
      }
    };
  const defaultTopk = options.defaultTopk ?? MCP_DEFAULTS.defaultTopk;
  const maxTopk = options.maxTopk ?? MCP_DEFAULTS.maxTopk;
  const server = new McpServer({ name: 'sr1-retriever', version: PACKAGE_VERSION });
  const ingested = retriever.sources !== undefined;

  server.registerTool(
    'search',
    {
      title: 'Search the index',
      description:
        `Searches ${retriever.index.size} passages (~100 words each) of the sr1 index and returns the best ` +
        `matches, best first, each with its id${ingested ? ' and its source (file, headings, offsets)' : ''}. ` +
        `Pass an id to \`open\` to read ${ingested ? 'the whole document it came from' : 'the passage'}.`,
      inputSchema: {
        query: z.string().min(1).max(MCP_DEFAULTS.maxQueryLength).describe('what to search for, in words'),
        topk: z
          .number()
          .int()
          .min(1)
          .max(maxTopk)
          .optional()
          .describe(`how many passages (default ${defaultTopk})`),
      },
      outputSchema: {
        results: z.array(
          z.object({
            id: z.string(),
            title: z.string(),
            text: z.string(),
            score: z.number(),
            source: sourceSchema.optional(),
          }),
        ),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    tracked(async ({ query, topk }: { query: string; topk?: number | undefined }) => {
      const [hits = []] = await retriever.search([query], topk ?? defaultTopk);
      const results = hits.map((hit) => ({
        id: hit.id,
        title: hit.title,
        text: hit.text,
        score: hit.score,
        ...(hit.source !== undefined ? { source: hit.source } : {}),
      }));
      const text = hits.length === 0 ? 'no passages found' : hits.map(formatHit).join('\n\n');
      return { content: [{ type: 'text' as const, text }], structuredContent: { results } };
    }),
  );

  server.registerTool(
    'open',
    {
      title: 'Open a document',
      description: ingested
        ? 'Returns the whole document (all its text, headings marked with #) that the passage with this id came from.'
        : 'Returns the passage with this id (this index has no whole documents: it was built from a passage corpus).',
      inputSchema: { id: z.string().min(1).describe('a passage id from `search`') },
      outputSchema: {
        id: z.string(),
        title: z.string(),
        text: z.string(),
        whole: z.boolean(),
        source: sourceSchema.optional(),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    tracked(async ({ id }: { id: string }) => {
      try {
        const document = retriever.openDocument(id);
        const header = document.source !== undefined ? `source: ${document.source.path}\n` : '';
        return {
          content: [{ type: 'text' as const, text: `${header}title: ${document.title}\n\n${document.text}` }],
          structuredContent: { ...document },
        };
      } catch (error) {
        if (error instanceof RetrieverInputError) {
          return { content: [{ type: 'text' as const, text: error.message }], isError: true };
        }
        throw error;
      }
    }),
  );
  callsInFlight.set(server, calls);
  return server as McpSearchServer;
}

const MCP_SPEC = {
  name: 'sr1-retriever mcp',
  summary: 'serve an index folder as an MCP server over stdio (tools: search, open)',
  flags: {
    index: {
      type: 'string',
      description: 'index folder (from index or ingest)',
      placeholder: 'DIR',
      required: true,
    },
    topk: {
      type: 'integer',
      description: 'passages per search when the call gives none',
      default: MCP_DEFAULTS.defaultTopk,
      min: 1,
    },
    'max-topk': {
      type: 'integer',
      description: 'largest topk a call may ask for',
      default: MCP_DEFAULTS.maxTopk,
      min: 1,
    },
    method: {
      type: 'choice',
      choices: ['bm25', 'dense', 'hybrid'],
      description: 'search method (default: the index kind)',
    },
    cache: {
      type: 'integer',
      description: 'cache this many search results (0 = no cache)',
      default: 0,
      min: 0,
    },
  },
  notes:
    'Speaks MCP on stdin/stdout; messages go to stderr. Example client configuration:\n' +
    '  {"mcpServers": {"docs": {"command": "npx", "args": ["sr1-retriever", "mcp", "--index", "/path/to/index"]}}}',
} satisfies CommandSpec;

/** Runs `sr1-retriever mcp` until stdin closes. */
export async function runMcpCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(MCP_SPEC, args);
  if (values.topk > values['max-topk']) {
    throw new RetrieverInputError('--topk', `${values.topk} is above --max-topk ${values['max-topk']}`);
  }
  const retriever = await InProcessRetriever.open(values.index, {
    ...(values.method !== undefined ? { method: values.method as 'bm25' | 'dense' | 'hybrid' } : {}),
    ...(values.cache > 0 ? { cache: { maxEntries: values.cache } } : {}),
  });
  const server = await createMcpServer(retriever, { defaultTopk: values.topk, maxTopk: values['max-topk'] });
  const { StdioServerTransport } = await importOptional(
    '@modelcontextprotocol/sdk',
    MCP_FEATURE,
    () => import('@modelcontextprotocol/sdk/server/stdio.js'),
  );
  const transport = new StdioServerTransport();
  let closed = false;
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    // Requests read before stdin ended may not have reached their handler yet: wait until no call
    // has run for three short turns, then until stdout has taken the last answer.
    const calls = callsInFlight.get(server) ?? { count: 0 };
    for (let idleTurns = 0; idleTurns < 3; ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      idleTurns = calls.count === 0 ? idleTurns + 1 : 0;
    }
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    await server.close().catch(() => {});
    await retriever.close();
    process.exit(0);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void shutdown());
  process.stdin.once('end', () => void shutdown());
  await server.connect(transport);
  io.stderr(
    `sr1-retriever mcp: ${retriever.index.size} passages (${retriever.method}${retriever.sources !== undefined ? ', with sources' : ''}) from ${retriever.index.dir} on stdio\n`,
  );
}

/** The `mcp` subcommand, for `sr1-retriever`'s program. */
export const mcpCommand: SubCommand = {
  summary: MCP_SPEC.summary,
  run: runMcpCommand,
};
