// `sr1-retriever bench …`: the retriever's benchmark commands. Each prints a markdown table and,
// with --json FILE, writes the raw numbers.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandSpec, InvalidInputError, parseCommand } from '@sr1/core';
import { loadIndex } from '../index-folder.js';
import { benchHnsw, HNSW_BENCH_DEFAULTS } from './hnsw.js';
import { benchMemory, type MemoryPart, probeMemory, WIKI18_PASSAGES } from './memory.js';
import { measureQuality } from './quality.js';
import { benchServer, SERVER_BENCH_DEFAULTS } from './server-load.js';

const DEFAULT_DATA_DIR = '../shared/data'; // relative to the repository root, as in CI

function list(value: string | undefined, fallback: number[], flag: string): number[] {
  if (value === undefined) return fallback;
  const numbers = value.split(',').map(Number);
  if (numbers.some((n) => !Number.isInteger(n) || n < 1))
    throw new InvalidInputError({
      flag,
      reason: `expected comma-separated positive integers, got '${value}'`,
    });
  return numbers;
}

function fixed(value: number, digits = 3): string {
  return value.toFixed(digits);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

const BENCHMARKS = ['quality', 'hnsw', 'server', 'memory', 'memory-probe'] as const;

export const BENCH_SPEC = {
  name: 'sr1-retriever bench',
  summary:
    'retriever benchmarks: quality | hnsw | server | memory (markdown table; --json FILE for raw numbers)',
  flags: {
    index: {
      type: 'string',
      required: true,
      placeholder: 'DIR',
      description: 'an index folder built by `sr1-retriever index`',
    },
    data: {
      type: 'string',
      default: DEFAULT_DATA_DIR,
      placeholder: 'DIR',
      description: 'the shared data folder',
    },
    json: { type: 'string', placeholder: 'FILE', description: 'write the raw numbers here' },
    part: { type: 'string', description: '(memory-probe) the part to load' },
    queries: { type: 'string', placeholder: 'N', description: '(hnsw) queries' },
    m: { type: 'string', placeholder: 'N', description: '(hnsw) links per node' },
    'ef-construction': { type: 'string', placeholder: 'N', description: '(hnsw) build candidate list' },
    efs: { type: 'string', placeholder: 'N,N,…', description: '(hnsw) search candidate lists' },
    python: { type: 'string', placeholder: 'PATH', description: '(hnsw) python with faiss for the peer' },
    clients: { type: 'string', placeholder: 'N,N,…', description: '(server) concurrent clients' },
    requests: { type: 'string', placeholder: 'N,N,…', description: '(server) requests per level' },
    batch: { type: 'string', placeholder: 'N', description: '(server) queries in the batch request' },
    method: { type: 'string', description: '(server) search method' },
  },
  positionals: { name: 'quality|hnsw|server|memory', min: 1, max: 1 },
  notes: 'See docs/results.md for what each benchmark measures.',
} as const satisfies CommandSpec;

export async function runBench(args: string[]): Promise<void> {
  const { values, positionals } = parseCommand(BENCH_SPEC, args);
  const what = positionals[0] as (typeof BENCHMARKS)[number];
  if (!(BENCHMARKS as readonly string[]).includes(what)) {
    throw new InvalidInputError({
      field: 'bench',
      reason: `unknown benchmark '${what}'. Supported: [quality, hnsw, server, memory]`,
    });
  }
  const indexDir = values.index;
  const dataDir = values.data;
  if (what !== 'memory-probe' && what !== 'memory' && !existsSync(join(dataDir, 'corpus.jsonl'))) {
    throw new InvalidInputError({
      flag: '--data',
      reason: `${dataDir} holds no corpus.jsonl; pass the shared data folder`,
    });
  }
  let raw: unknown;
  switch (what) {
    case 'quality': {
      const index = await loadIndex(indexDir);
      const rows = await measureQuality(index, dataDir);
      await index.close();
      process.stdout.write(
        '| dataset | questions | method | recall@1 | recall@3 | recall@10 |\n|---|---:|---|---:|---:|---:|\n',
      );
      for (const row of rows) {
        process.stdout.write(
          `| ${row.dataset} | ${row.questions} | ${row.method} | ${fixed(row.recall[1])} | ${fixed(row.recall[3])} | ${fixed(row.recall[10])} |\n`,
        );
      }
      raw = rows;
      break;
    }
    case 'hnsw': {
      const index = await loadIndex(indexDir);
      const defaults = HNSW_BENCH_DEFAULTS;
      const result = await benchHnsw(index, {
        ...defaults,
        dataDir,
        queries: list(values.queries, [defaults.queries], '--queries')[0]!,
        m: list(values.m, [defaults.m], '--m')[0]!,
        efConstruction: list(values['ef-construction'], [defaults.efConstruction], '--ef-construction')[0]!,
        efs: list(values.efs, defaults.efs, '--efs'),
        python: values.python ?? defaults.python,
      });
      await index.close();
      process.stdout.write(
        `${result.vectors} vectors × ${result.dimension}, ${result.queries} queries, k ${result.k}, M ${result.m}, efConstruction ${result.efConstruction}, 1 thread each\n` +
          `build: sr1 (hnswlib-node) ${fixed(result.sr1.buildSeconds, 2)} s, FAISS ${result.faiss ? fixed(result.faiss.build_seconds, 2) : 'n/a'} s\n` +
          '| ef | sr1 recall@10 | sr1 queries/s | FAISS recall@10 | FAISS queries/s |\n|---:|---:|---:|---:|---:|\n',
      );
      result.sr1.results.forEach((row, i) => {
        const peer = result.faiss?.results[i];
        process.stdout.write(
          `| ${row.ef} | ${fixed(row.recall)} | ${row.qps.toFixed(0)} | ${peer ? fixed(peer.recall) : 'n/a'} | ${peer ? peer.qps.toFixed(0) : 'n/a'} |\n`,
        );
      });
      if (result.faissError !== undefined) process.stdout.write(`FAISS peer failed: ${result.faissError}\n`);
      raw = result;
      break;
    }
    case 'server': {
      const result = await benchServer({
        index: indexDir,
        dataDir,
        ...SERVER_BENCH_DEFAULTS,
        clients: list(values.clients, SERVER_BENCH_DEFAULTS.clients, '--clients'),
        requests: list(values.requests, SERVER_BENCH_DEFAULTS.requests, '--requests'),
        batch: list(values.batch, [SERVER_BENCH_DEFAULTS.batch], '--batch')[0]!,
        ...(values.method !== undefined ? { method: values.method } : {}),
      });
      process.stdout.write(
        '| clients | requests | errors | requests/s | p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|---:|\n',
      );
      for (const row of result.load) {
        process.stdout.write(
          `| ${row.clients} | ${row.requests} | ${row.errors} | ${row.requestsPerSecond.toFixed(0)} | ${fixed(row.p50Ms, 2)} | ${fixed(row.p99Ms, 2)} |\n`,
        );
      }
      const b = result.batch;
      process.stdout.write(
        `batch of ${b.batch} queries × ${b.repeats}: p50 ${fixed(b.p50Ms, 1)} ms, max ${fixed(b.maxMs, 1)} ms, ${b.queriesPerSecond.toFixed(0)} queries/s, errors ${b.errors}\n`,
      );
      raw = result;
      break;
    }
    case 'memory': {
      const report = benchMemory(indexDir);
      const n = report.passages;
      process.stdout.write(
        `${n} passages; extrapolation to ${WIKI18_PASSAGES.toLocaleString('en-US')} (wiki-18)\n`,
      );
      process.stdout.write('| part | RSS delta | per passage | × wiki-18 |\n|---|---:|---:|---:|\n');
      for (const probe of report.probes) {
        const per = probe.rssBytes / n;
        process.stdout.write(
          `| ${probe.part} (RSS; heap ${mib(probe.heapBytes)}, buffers ${mib(probe.arrayBufferBytes)}) | ${mib(probe.rssBytes)} | ${per.toFixed(0)} B | ${((per * WIKI18_PASSAGES) / 1024 ** 3).toFixed(1)} GiB |\n`,
        );
      }
      process.stdout.write('| file | size | per passage | × wiki-18 |\n|---|---:|---:|---:|\n');
      for (const [file, size] of Object.entries(report.disk)) {
        const per = size / n;
        process.stdout.write(
          `| ${file} | ${mib(size)} | ${per.toFixed(1)} B | ${((per * WIKI18_PASSAGES) / 1024 ** 3).toFixed(1)} GiB |\n`,
        );
      }
      raw = report;
      break;
    }
    case 'memory-probe': {
      const part = values.part as MemoryPart;
      process.stdout.write(`${JSON.stringify(probeMemory(indexDir, part))}\n`);
      return;
    }
    default:
      throw new InvalidInputError({
        field: 'bench',
        reason: `unknown benchmark '${what}'. Supported: [quality, hnsw, server, memory]`,
      });
  }
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify(raw, null, 2)}\n`);
}
