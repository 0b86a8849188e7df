// The query cache on GRPO-shaped search batches (docs/your-documents.md): 3 steps of 64 prompts ×
// a group of 5 rollouts over the shared corpus, each rollout's first search being its question (as
// the trained agent's first search usually is), searched with and without the cache.
// Run from the repository root after `npm run build -w @sr1/retriever`:
//   node packages/retriever/scripts/cache-grpo-batches.mjs [--kind bm25|hybrid]
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildIndex, InProcessRetriever, loadIndex } from '@sr1/retriever';

const { values } = parseArgs({ options: { kind: { type: 'string', default: 'hybrid' } } });
const data = new URL('../../../../shared/data/', import.meta.url);
const out = join(tmpdir(), `sr1-cache-grpo-${values.kind}`);
await buildIndex({ corpus: new URL('corpus.jsonl', data).pathname, out, kind: values.kind, force: true });
const index = await loadIndex(out);
const questions = readFileSync(new URL('nq.jsonl', data), 'utf8')
  .trim()
  .split('\n')
  .slice(0, 192)
  .map((line) => JSON.parse(line).question);
const steps = [0, 1, 2].map((step) =>
  questions.slice(step * 64, step * 64 + 64).flatMap((question) => Array(5).fill(question)),
);
for (const [name, retriever] of [
  ['no cache', new InProcessRetriever(index)],
  ['cache', new InProcessRetriever(index, { cache: { maxEntries: 10_000 } })],
]) {
  await retriever.search(['warm up'], 3);
  const started = performance.now();
  for (const batch of steps) await retriever.search(batch, 3);
  const ms = (performance.now() - started) / steps.length;
  const stats = retriever.cache?.stats();
  console.log(
    `${values.kind} ${name}: ${ms.toFixed(0)} ms per 320-query step` +
      (stats ? ` (hits ${stats.hits}, misses ${stats.misses}, hit rate ${stats.hitRate.toFixed(3)})` : ''),
  );
}
await index.close();
