#!/usr/bin/env node
// `sr1-retriever`: build an index folder from a corpus, serve it over HTTP, query it from the shell,
// and run the retriever benchmarks.

import { parseArgs } from 'node:util';
import { InvalidInputError, processIo, Sr1Error } from '@sr1/core';
import cliProgress from 'cli-progress';
import { runBench } from './bench/bench.js';
import {
  buildIndex,
  type EncoderSpec,
  type IndexKind,
  loadIndex,
  type SearchMethod,
} from './index-folder.js';
import { ingestCommand } from './ingest/command.js';
import { mcpCommand } from './mcp-server.js';
import { QueryCache } from './query-cache.js';
import { InProcessRetriever } from './retriever.js';
import { SERVER_DEFAULTS, startServer } from './server.js';

const USAGE = `sr1-retriever — Search-R1 retrieval: corpus → BM25 / HNSW index → /retrieve server

  sr1-retriever index --corpus FILE --out DIR --kind bm25|dense|hybrid [--encoder hashing|MODEL_DIR]
                      [--dimension N] [--m N] [--ef-construction N] [--ef N] [--k1 X] [--b X]
  sr1-retriever serve --index DIR [--host 127.0.0.1] [--port 8000] [--topk 3] [--method bm25|dense|hybrid] [--ef N]
  sr1-retriever query --index DIR [--topk 3] [--method M] [--json] QUESTION...
  sr1-retriever bench quality|hnsw|server|memory [options]   (see docs/results.md)
`;

function intFlag(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    throw new InvalidInputError({ flag, reason: `expected an integer ≥ ${min}, got '${value}'` });
  }
  return parsed;
}

function floatFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0)
    throw new InvalidInputError({ flag, reason: `expected a number ≥ 0, got '${value}'` });
  return parsed;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value.length === 0) throw new InvalidInputError({ flag, reason: 'required' });
  return value;
}

function methodFlag(value: string | undefined): SearchMethod | undefined {
  if (value === undefined) return undefined;
  if (value !== 'bm25' && value !== 'dense' && value !== 'hybrid') {
    throw new InvalidInputError({
      flag: '--method',
      reason: `unknown method '${value}'. Supported: [bm25, dense, hybrid]`,
    });
  }
  return value;
}

async function commandIndex(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      corpus: { type: 'string' },
      out: { type: 'string' },
      kind: { type: 'string' },
      encoder: { type: 'string' },
      dimension: { type: 'string' },
      m: { type: 'string' },
      'ef-construction': { type: 'string' },
      ef: { type: 'string' },
      k1: { type: 'string' },
      b: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  const kind = required(values.kind, '--kind');
  if (kind !== 'bm25' && kind !== 'dense' && kind !== 'hybrid') {
    throw new InvalidInputError({
      flag: '--kind',
      reason: `unknown kind '${kind}'. Supported: [bm25, dense, hybrid]`,
    });
  }
  const encoderName = values.encoder ?? 'hashing';
  const encoder: EncoderSpec =
    encoderName === 'hashing'
      ? {
          type: 'hashing',
          ...(values.dimension !== undefined
            ? { dimension: intFlag(values.dimension, '--dimension', 512) }
            : {}),
        }
      : { type: 'onnx', modelDir: encoderName };
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
  const k1 = floatFlag(values.k1, '--k1');
  const b = floatFlag(values.b, '--b');
  const manifest = await buildIndex({
    corpus: required(values.corpus, '--corpus'),
    out: required(values.out, '--out'),
    kind: kind as IndexKind,
    encoder,
    bm25: { ...(k1 !== undefined ? { k1 } : {}), ...(b !== undefined ? { b } : {}) },
    hnsw: {
      ...(values.m !== undefined ? { m: intFlag(values.m, '--m', 16, 2) } : {}),
      ...(values['ef-construction'] !== undefined
        ? { efConstruction: intFlag(values['ef-construction'], '--ef-construction', 200) }
        : {}),
      ...(values.ef !== undefined ? { ef: intFlag(values.ef, '--ef', 128) } : {}),
    },
    onProgress: (progress) => {
      if (values.quiet === true) return;
      let bar = active.get(progress.phase);
      if (bar === undefined) {
        bar = bars.create(progress.total, 0, { phase: progress.phase.padEnd(6) });
        active.set(progress.phase, bar);
      }
      bar.setTotal(progress.total);
      bar.update(progress.done, { phase: progress.phase.padEnd(6) });
    },
  });
  bars.stop();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stdout.write(
    `built ${manifest.kind} index of ${manifest.corpus.passages} passages in ${seconds} s → ${values.out}\n` +
      (manifest.bm25
        ? `  bm25: ${manifest.bm25.terms} terms, ${manifest.bm25.postings} postings (k1 ${manifest.bm25.k1}, b ${manifest.bm25.b})\n`
        : '') +
      (manifest.dense
        ? `  dense: ${manifest.dense.encoder.id}, HNSW m ${manifest.dense.hnsw.m} efConstruction ${manifest.dense.hnsw.efConstruction} ef ${manifest.dense.hnsw.ef}\n`
        : ''),
  );
}

async function commandServe(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      index: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      topk: { type: 'string' },
      method: { type: 'string' },
      ef: { type: 'string' },
      log: { type: 'boolean' },
      cache: { type: 'string' },
    },
  });
  const cacheEntries = intFlag(values.cache, '--cache', 0, 0);
  const index = await loadIndex(required(values.index, '--index'), {
    ...(values.ef !== undefined ? { ef: intFlag(values.ef, '--ef', 128) } : {}),
  });
  const method = methodFlag(values.method);
  const server = await startServer({
    index,
    ...(method !== undefined ? { method } : {}),
    defaultTopk: intFlag(values.topk, '--topk', SERVER_DEFAULTS.defaultTopk),
    host: values.host ?? SERVER_DEFAULTS.host,
    port: intFlag(values.port, '--port', SERVER_DEFAULTS.port, 0),
    logger: values.log === true,
    ...(cacheEntries > 0 ? { cache: new QueryCache({ maxEntries: cacheEntries }) } : {}),
  });
  process.stdout.write(
    `serving ${index.size} passages (${method ?? index.defaultMethod}) at ${server.url}/retrieve\n`,
  );
  const stop = () => {
    void server
      .close()
      .then(() => index.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function commandQuery(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      index: { type: 'string' },
      topk: { type: 'string' },
      method: { type: 'string' },
      json: { type: 'boolean' },
      ef: { type: 'string' },
    },
  });
  if (positionals.length === 0)
    throw new InvalidInputError({ field: 'QUESTION', reason: 'give at least one question' });
  const method = methodFlag(values.method);
  const retriever = await InProcessRetriever.open(required(values.index, '--index'), {
    ...(method !== undefined ? { method } : {}),
    ...(values.ef !== undefined ? { ef: intFlag(values.ef, '--ef', 128) } : {}),
  });
  const topk = intFlag(values.topk, '--topk', SERVER_DEFAULTS.defaultTopk);
  const results = await retriever.search(positionals, topk);
  if (values.json === true) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    results.forEach((hits, q) => {
      process.stdout.write(`Q: ${positionals[q]}\n`);
      hits.forEach((hit, rank) => {
        process.stdout.write(
          `  ${rank + 1}. [${hit.id}] ${hit.title} (${hit.score.toFixed(4)})\n     ${hit.text.slice(0, 160).replace(/\s+/g, ' ')}\n`,
        );
      });
    });
  }
  await retriever.close();
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'index':
      return commandIndex(rest);
    case 'serve':
      return commandServe(rest);
    case 'query':
      return commandQuery(rest);
    case 'bench':
      return runBench(rest);
    case 'ingest':
      return ingestCommand.run(rest, processIo);
    case 'mcp':
      return mcpCommand.run(rest, processIo);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new InvalidInputError({
        field: 'command',
        reason: `unknown command '${command}'. Supported: [index, serve, query, bench]`,
      });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof Sr1Error || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    process.stderr.write(`sr1-retriever: ${(error as Error).message}\n`);
    process.exit(2);
  }
  process.stderr.write(`sr1-retriever: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
