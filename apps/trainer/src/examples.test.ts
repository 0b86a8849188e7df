// The starter configs of examples/ run as written: each is loaded from its file (paths relative to
// it), pointed at a temporary output folder and run for a step or two; the README lines that name
// them refer to files that exist. The RL example's index is built from its corpus, as its README says.

import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildIndex } from '@sr1/retriever';
import { describe, expect, it } from 'vitest';
import { loadRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { loadSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import { readMetrics } from './testing/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = join(ROOT, 'examples');

describe('examples/', () => {
  it('sft.json runs as written (2 steps, random init from tiny-model.json)', async () => {
    const config = await loadSftConfig(join(EXAMPLES, 'sft.json'));
    expect(config.model.kind).toBe('init');
    expect(config.output.dir).toBe(join(ROOT, 'runs/examples/sft'));
    const out = await mkdtemp(join(tmpdir(), 'sr1-example-sft-'));
    const result = await runSft(
      {
        ...config,
        training: { ...config.training, steps: 2 },
        output: { ...config.output, dir: out },
        engine: { ...config.engine, threads: 1 },
      },
      { resume: false, quiet: true },
    );
    expect(result.steps).toBe(2);
    const metrics = await readMetrics(out);
    expect(metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(Number.isFinite(metrics[1]!.loss)).toBe(true);
    expect(existsSync(join(result.finalDir, 'model.safetensors'))).toBe(true);
  });

  it('rl.json runs as written on an index built from toy-corpus.jsonl (1 step)', async () => {
    const config = await loadRlConfig(join(EXAMPLES, 'rl.json'));
    expect(config.index).toBe(join(ROOT, 'runs/examples/index'));
    const out = await mkdtemp(join(tmpdir(), 'sr1-example-rl-'));
    const index = join(out, 'index');
    await buildIndex({ corpus: join(EXAMPLES, 'toy-corpus.jsonl'), out: index, kind: 'bm25' });
    const result = await runRl(
      {
        ...config,
        index,
        steps: 1,
        data: { ...config.data, validationLimit: 2 },
        output: { ...config.output, dir: join(out, 'run') },
        engine: { ...config.engine, threads: 1 },
      },
      { resume: false, quiet: true },
    );
    expect(result.steps).toBe(1);
    const steps = await readMetrics(join(out, 'run'), true);
    expect(steps.map((m) => m.step)).toEqual([1]);
    expect(steps[0]!['grpo/groups']).toBe(config.promptsPerStep);
  });

  it('the README commands name config files that exist', async () => {
    const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
    const configs = [...readme.matchAll(/--config (\S+\.json)/g)].map((match) => match[1]!);
    expect(configs).toEqual(expect.arrayContaining(['examples/sft.json', 'examples/rl.json']));
    for (const config of configs) expect(existsSync(join(ROOT, config)), config).toBe(true);
    const examplesReadme = await readFile(join(EXAMPLES, 'README.md'), 'utf8');
    for (const match of examplesReadme.matchAll(/(?:--config|--corpus) (examples\/[\w./-]+)/g)) {
      expect(existsSync(join(ROOT, match[1]!)), match[1]).toBe(true);
    }
  });
});
