#!/usr/bin/env node
// `sr1-retriever`: build an index folder from a corpus, serve it over HTTP, query it from the shell,
// ingest a folder of documents, serve MCP, and run the retriever benchmarks. One `commands` record
// on @sr1/core's command layer: typed flags, --help everywhere, one-line typed errors.

import {
  type CliIo,
  type CliProgram,
  type CommandSpec,
  isMainModule,
  parseCommand,
  runProcess,
  type SubCommand,
} from '@sr1/core';
import cliProgress from 'cli-progress';
import { BENCH_SPEC, runBench } from './bench/bench.js';
import {
  buildIndex,
  type EncoderSpec,
  type IndexKind,
  loadIndex,
  type SearchMethod,
} from './index-folder.js';
import { ingestCommand } from './ingest/command.js';
import { describeSource, mcpCommand } from './mcp-server.js';
import { QueryCache } from './query-cache.js';
import { InProcessRetriever } from './retriever.js';
import { SERVER_DEFAULTS, startServer } from './server.js';
import { DEFAULT_HNSW_PARAMETERS } from './vector-index.js';

const METHODS = ['bm25', 'dense', 'hybrid'] as const;

const INDEX_SPEC = {
  name: 'sr1-retriever index',
  summary: 'build a BM25 / HNSW index folder from a Search-R1 JSONL corpus',
  flags: {
    corpus: {
      type: 'string',
      required: true,
      placeholder: 'FILE',
      description: 'corpus JSONL ({"id", "contents"} per line)',
    },
    out: {
      type: 'string',
      required: true,
      placeholder: 'DIR',
      description: 'index folder; built beside it and switched in when complete',
    },
    kind: { type: 'choice', choices: METHODS, required: true, description: 'what the index can search with' },
    encoder: {
      type: 'string',
      placeholder: 'hashing|MODEL_DIR',
      default: 'hashing',
      description: 'dense encoder: the hashing encoder or a local ONNX model folder',
    },
    dimension: { type: 'integer', min: 1, description: 'hashing encoder dimension (default 512)' },
    m: { type: 'integer', min: 2, description: `HNSW links per node (default ${DEFAULT_HNSW_PARAMETERS.m})` },
    'ef-construction': {
      type: 'integer',
      min: 1,
      description: `HNSW build candidate list (default ${DEFAULT_HNSW_PARAMETERS.efConstruction})`,
    },
    ef: {
      type: 'integer',
      min: 1,
      description: `HNSW search candidate list (default ${DEFAULT_HNSW_PARAMETERS.ef})`,
    },
    k1: { type: 'number', min: 0, description: 'BM25 k1 (default 0.9)' },
    b: { type: 'number', min: 0, description: 'BM25 b (default 0.4)' },
    'duplicate-ids': {
      type: 'choice',
      choices: ['error', 'skip'],
      default: 'error',
      description: 'a repeated corpus id: refuse naming file:line, or keep the first and report',
    },
    'invalid-utf8': {
      type: 'choice',
      choices: ['error', 'replace', 'skip'],
      default: 'error',
      description: 'a line that is not UTF-8: refuse naming file:line, or replace (U+FFFD) / skip and report',
    },
    force: {
      type: 'boolean',
      description: 'replace an --out folder that holds anything besides an sr1 index',
    },
    quiet: { type: 'boolean', description: 'no progress bars' },
  },
} as const satisfies CommandSpec;

const SERVE_SPEC = {
  name: 'sr1-retriever serve',
  summary: 'serve an index folder at POST /retrieve (the Search-R1 reference API)',
  flags: {
    index: { type: 'string', required: true, placeholder: 'DIR', description: 'index folder' },
    host: {
      type: 'string',
      default: SERVER_DEFAULTS.host,
      description: 'address to bind (local only by default)',
    },
    port: {
      type: 'integer',
      min: 0,
      max: 65535,
      default: SERVER_DEFAULTS.port,
      description: 'port (0: any free one)',
    },
    topk: {
      type: 'integer',
      min: 1,
      max: SERVER_DEFAULTS.maxTopk,
      default: SERVER_DEFAULTS.defaultTopk,
      description: 'topk of requests that give none (never above the per-request cap)',
    },
    method: { type: 'choice', choices: METHODS, description: 'search method (default: the index kind)' },
    ef: { type: 'integer', min: 1, description: "HNSW search candidate list (default: the manifest's)" },
    cache: {
      type: 'integer',
      min: 0,
      default: 0,
      placeholder: 'ENTRIES',
      description: 'query cache entries (0: off)',
    },
    log: { type: 'boolean', description: 'one line per request on stderr' },
  },
  notes:
    'One request may ask for at most a budget of queries × topk results derived from the heap (413 names it); raise the heap with NODE_OPTIONS=--max-old-space-size=MB.',
} as const satisfies CommandSpec;

const QUERY_SPEC = {
  name: 'sr1-retriever query',
  summary: 'search an index folder from the shell',
  flags: {
    index: { type: 'string', required: true, placeholder: 'DIR', description: 'index folder' },
    topk: {
      type: 'integer',
      min: 1,
      max: SERVER_DEFAULTS.maxTopk,
      default: SERVER_DEFAULTS.defaultTopk,
      description: 'passages per question',
    },
    method: { type: 'choice', choices: METHODS, description: 'search method (default: the index kind)' },
    ef: { type: 'integer', min: 1, description: 'HNSW search candidate list' },
    json: { type: 'boolean', description: 'print the hits as JSON' },
  },
  positionals: { name: 'QUESTION...', min: 1 },
} as const satisfies CommandSpec;

async function commandIndex(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(INDEX_SPEC, args);
  const encoder: EncoderSpec =
    values.encoder === 'hashing'
      ? { type: 'hashing', ...(values.dimension !== undefined ? { dimension: values.dimension } : {}) }
      : { type: 'onnx', modelDir: values.encoder };
  const bars = new cliProgress.MultiBar(
    {
      format: ' {phase} |{bar}| {percentage}% {value}/{total}',
      hideCursor: true,
      clearOnComplete: false,
      noTTYOutput: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const active = new Map<string, cliProgress.SingleBar>();
  const started = performance.now();
  let manifest: Awaited<ReturnType<typeof buildIndex>>;
  try {
    manifest = await buildIndex({
      corpus: values.corpus,
      out: values.out,
      kind: values.kind as IndexKind,
      encoder,
      force: values.force,
      duplicateIds: values['duplicate-ids'] as 'error' | 'skip',
      invalidUtf8: values['invalid-utf8'] as 'error' | 'replace' | 'skip',
      bm25: {
        ...(values.k1 !== undefined ? { k1: values.k1 } : {}),
        ...(values.b !== undefined ? { b: values.b } : {}),
      },
      hnsw: {
        ...(values.m !== undefined ? { m: values.m } : {}),
        ...(values['ef-construction'] !== undefined ? { efConstruction: values['ef-construction'] } : {}),
        ...(values.ef !== undefined ? { ef: values.ef } : {}),
      },
      onProgress: (progress) => {
        if (values.quiet) return;
        let bar = active.get(progress.phase);
        if (bar === undefined) {
          bar = bars.create(progress.total, 0, { phase: progress.phase.padEnd(6) });
          active.set(progress.phase, bar);
        }
        bar.setTotal(progress.total);
        bar.update(progress.done, { phase: progress.phase.padEnd(6) });
      },
    });
  } finally {
    bars.stop();
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const report = manifest.corpus.report;
  io.stdout(
    `built ${manifest.kind} index of ${manifest.corpus.passages} passages in ${seconds} s → ${values.out}\n` +
      (manifest.bm25
        ? `  bm25: ${manifest.bm25.terms} terms, ${manifest.bm25.postings} postings (k1 ${manifest.bm25.k1}, b ${manifest.bm25.b})\n`
        : '') +
      (manifest.dense
        ? `  dense: ${manifest.dense.encoder.id}, HNSW m ${manifest.dense.hnsw.m} efConstruction ${manifest.dense.hnsw.efConstruction} ef ${manifest.dense.hnsw.ef}\n`
        : '') +
      (report !== undefined && report.duplicateIds.count > 0
        ? `  skipped ${report.duplicateIds.count} passages with a repeated id (lines ${report.duplicateIds.lines.join(', ')}${report.duplicateIds.count > report.duplicateIds.lines.length ? ', …' : ''})\n`
        : '') +
      (report !== undefined && report.invalidUtf8.count > 0
        ? `  ${values['invalid-utf8'] === 'skip' ? 'skipped' : 'repaired'} ${report.invalidUtf8.count} lines that were not UTF-8 (lines ${report.invalidUtf8.lines.join(', ')}${report.invalidUtf8.count > report.invalidUtf8.lines.length ? ', …' : ''})\n`
        : ''),
  );
}

async function commandServe(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(SERVE_SPEC, args);
  const index = await loadIndex(values.index, values.ef !== undefined ? { ef: values.ef } : {});
  const method = values.method as SearchMethod | undefined;
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      index,
      ...(method !== undefined ? { method } : {}),
      defaultTopk: values.topk,
      host: values.host,
      port: values.port,
      logger: values.log,
      ...(values.cache > 0 ? { cache: new QueryCache({ maxEntries: values.cache }) } : {}),
    });
  } catch (error) {
    await index.close();
    throw error;
  }
  // Resolves when a signal has closed the server (every connection cut, slow clients included).
  // The handlers are in place before the "serving" line, which callers wait for.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void server
        .close()
        .then(() => index.close())
        .then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.stdout(`serving ${index.size} passages (${method ?? index.defaultMethod}) at ${server.url}/retrieve\n`);
  await stopped;
}

async function commandQuery(args: string[], io: CliIo): Promise<void> {
  const { values, positionals } = parseCommand(QUERY_SPEC, args);
  const method = values.method as SearchMethod | undefined;
  const retriever = await InProcessRetriever.open(values.index, {
    ...(method !== undefined ? { method } : {}),
    ...(values.ef !== undefined ? { ef: values.ef } : {}),
  });
  try {
    const results = await retriever.search(positionals, values.topk);
    if (values.json) {
      io.stdout(`${JSON.stringify(results, null, 2)}\n`);
      return;
    }
    results.forEach((hits, q) => {
      io.stdout(`Q: ${positionals[q]}\n`);
      hits.forEach((hit, rank) => {
        io.stdout(
          `  ${rank + 1}. [${hit.id}] ${hit.title} (${hit.score.toFixed(4)})\n     ${hit.text.slice(0, 160).replace(/\s+/g, ' ')}\n`,
        );
        if (hit.source !== undefined) io.stdout(`     source: ${describeSource(hit.source)}\n`);
      });
    });
  } finally {
    await retriever.close();
  }
}

/** Every subcommand of `sr1-retriever`: add one here (summary + run) and it gets help and errors. */
const commands: Record<string, SubCommand> = {
  index: { summary: INDEX_SPEC.summary, run: commandIndex },
  serve: { summary: SERVE_SPEC.summary, run: commandServe },
  query: { summary: QUERY_SPEC.summary, run: commandQuery },
  ingest: ingestCommand,
  mcp: mcpCommand,
  bench: { summary: BENCH_SPEC.summary, run: runBench },
};

export const program: CliProgram = {
  name: 'sr1-retriever',
  summary: 'Search-R1 retrieval: corpus → BM25 / HNSW index → /retrieve server',
  commands,
  notes: 'Measurements: docs/results.md (section @sr1/retriever) and docs/benchmarks.md.',
};

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  await runProcess(program, argv);
}

if (isMainModule(import.meta.url)) void main();
