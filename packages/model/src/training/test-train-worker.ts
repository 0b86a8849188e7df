// Test support: the train worker script bundled from the TypeScript sources (Node 20 cannot run .ts
// in a worker_thread), its dependencies left to node_modules. The built package ships its own.

import { mkdir } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

/** Bundles `train-worker.ts` to a file under this package's node_modules/.cache and returns its URL. */
export async function testTrainWorkerUrl(): Promise<URL> {
  const dir = fileURLToPath(new URL('../../node_modules/.cache/sr1-train-worker/', import.meta.url));
  await mkdir(dir, { recursive: true });
  // one file per process and call: test files run in parallel
  const outfile = `${dir}train-worker-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`;
  await build({
    entryPoints: [fileURLToPath(new URL('./train-worker.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
  });
  return pathToFileURL(outfile);
}
