// `bench memory`: memory each part of a loaded index needs, measured in a fresh child process per
// part (RSS and V8 deltas after a forced GC, so native hnswlib memory counts too), and the bytes
// per passage on disk; both extrapolated to the 21,015,324 passages of the reference's wiki-18.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bm25Index } from '../bm25.js';
import { DocStore } from '../corpus.js';
import { RetrieverInputError } from '../errors.js';
import { readManifest } from '../index-folder.js';
import { HnswIndex } from '../vector-index.js';

export const WIKI18_PASSAGES = 21_015_324;

export type MemoryPart = 'docs' | 'bm25' | 'bm25-disk' | 'hnsw';

export interface MemoryProbe {
  part: MemoryPart;
  rssBytes: number;
  heapBytes: number;
  arrayBufferBytes: number;
}

function snapshot(): { rss: number; heap: number; arrayBuffers: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed, arrayBuffers: usage.arrayBuffers };
}

/** Runs inside the child: loads one part and reports the deltas. Needs `node --expose-gc`. */
export function probeMemory(dir: string, part: MemoryPart): MemoryProbe {
  const manifest = readManifest(dir);
  const before = snapshot();
  const keep: unknown[] = [];
  if (part === 'docs')
    keep.push(DocStore.open(join(dir, 'docs.jsonl'), join(dir, 'docs.offsets'), manifest.corpus.ordinalIds));
  if (part === 'bm25') keep.push(Bm25Index.load(join(dir, 'bm25'), { postingsInMemory: true }));
  if (part === 'bm25-disk') keep.push(Bm25Index.load(join(dir, 'bm25'), { postingsInMemory: false }));
  if (part === 'hnsw') {
    if (manifest.dense === null) throw new RetrieverInputError('index', `${dir} has no dense part`);
    keep.push(
      HnswIndex.load(
        join(dir, 'dense', 'hnsw.bin'),
        manifest.dense.encoder.dimension,
        manifest.dense.hnsw.ef,
      ),
    );
  }
  const after = snapshot();
  if (keep.length === 0) throw new RetrieverInputError('part', `unknown part ${part}`);
  return {
    part,
    rssBytes: after.rss - before.rss,
    heapBytes: after.heap - before.heap,
    arrayBufferBytes: after.arrayBuffers - before.arrayBuffers,
  };
}

export interface MemoryReport {
  passages: number;
  probes: MemoryProbe[];
  disk: Record<string, number>;
}

function folderBytes(dir: string): Record<string, number> {
  const sizes: Record<string, number> = {};
  const walk = (folder: string, prefix: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(folder, entry.name), `${prefix}${entry.name}/`);
      else sizes[`${prefix}${entry.name}`] = statSync(join(folder, entry.name)).size;
    }
  };
  walk(dir, '');
  return sizes;
}

export function benchMemory(dir: string): MemoryReport {
  const manifest = readManifest(dir);
  const cli = fileURLToPath(new URL('./cli.js', import.meta.url));
  const parts: MemoryPart[] = ['docs', 'bm25', 'bm25-disk'];
  if (manifest.dense !== null) parts.push('hnsw');
  const probes = parts.map((part) => {
    const output = execFileSync(
      process.execPath,
      ['--expose-gc', cli, 'bench', 'memory-probe', '--index', dir, '--part', part],
      {
        encoding: 'utf8',
      },
    );
    return JSON.parse(output) as MemoryProbe;
  });
  return { passages: manifest.corpus.passages, probes, disk: folderBytes(dir) };
}
