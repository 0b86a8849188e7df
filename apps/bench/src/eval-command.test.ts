// `sr1-bench eval` and `retrieval-quality` end to end on real parts: a random tiny model folder, a
// real BM25 index over shared-corpus passages, a local run and a run through an OpenAI-compatible
// endpoint (startCompletionsServer over the same engine), and the tables they write.

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  generate,
  generatorFromEngine,
  loadModelFolder,
  loadTokenizer,
  OrtDecoderRunner,
  startCompletionsServer,
} from '@sr1/model';
import { tinyModelFolder, tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { buildIndex } from '@sr1/retriever';
import { describe, expect, it } from 'vitest';
import { runEvalCommand, runRetrievalQualityCommand } from './eval-command.js';

const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../shared/data/', import.meta.url));
/** A tiny Qwen2 on the small tokenizer with a long enough context for the agent loop. */
const TINY = { ...tinyQwen2ForSmallTokenizer(), maxPositionEmbeddings: 2048 };

/** A data folder with the first lines of two shared datasets, and a 300-passage corpus. */
function smallData(root: string): { data: string; corpus: string } {
  const data = join(root, 'data');
  mkdirSync(data);
  for (const name of ['nq', 'musique']) {
    const lines = readFileSync(join(SHARED_DATA_DIR, `${name}.jsonl`), 'utf8')
      .split('\n')
      .slice(0, 3);
    writeFileSync(join(data, `${name}.jsonl`), `${lines.join('\n')}\n`);
  }
  const supporting = readFileSync(join(SHARED_DATA_DIR, 'supporting.jsonl'), 'utf8');
  writeFileSync(join(data, 'supporting.jsonl'), supporting);
  const corpus = join(root, 'corpus.jsonl');
  const passages = readFileSync(join(SHARED_DATA_DIR, 'corpus.jsonl'), 'utf8').split('\n').slice(0, 300);
  writeFileSync(corpus, `${passages.join('\n')}\n`);
  return { data, corpus };
}

describe('sr1-bench eval', () => {
  it('runs every method with a local model and through an endpoint, resumes, and writes the tables', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sr1-bench-eval-'));
    const { data, corpus } = smallData(root);
    const modelDir = await tinyModelFolder(2, TINY);
    const index = join(root, 'index');
    await buildIndex({ corpus, out: index, kind: 'bm25' });
    const flags = [
      '--data',
      data,
      '--index',
      index,
      '--limit',
      '2',
      '--max-turns',
      '2',
      '--max-tokens-per-turn',
      '10',
    ];

    const localOut = join(root, 'local');
    await runEvalCommand([...flags, '--model', modelDir, '--out', localOut]);
    const results = readFileSync(join(localOut, 'results.jsonl'), 'utf8').trim().split('\n');
    expect(results).toHaveLength(2 * 2 * 4); // datasets x questions x methods
    const table = JSON.parse(readFileSync(join(localOut, 'table.json'), 'utf8'));
    expect(table.datasets).toEqual(['musique', 'nq']);
    expect(table.rows.map((r: { method: string }) => r.method)).toEqual(['direct', 'cot', 'rag', 'agent']);
    expect(readFileSync(join(localOut, 'table.md'), 'utf8')).toContain('| method | musique | nq | avg |');
    const html = readFileSync(join(localOut, 'table.html'), 'utf8');
    expect(html).toContain('<table>');
    expect(html).toContain('Questions and their sources'); // every question with its passages
    const config = JSON.parse(readFileSync(join(localOut, 'config.json'), 'utf8'));
    expect(config.rollout).toMatchObject({
      maxTurns: 2,
      maxTokensPerTurn: 10,
      temperature: 0,
      maxPromptTokens: 2038,
    });

    // A rerun with the same --out evaluates nothing again.
    await runEvalCommand([...flags, '--model', modelDir, '--out', localOut]);
    expect(readFileSync(join(localOut, 'results.jsonl'), 'utf8').trim().split('\n')).toHaveLength(16);
    // ...but not with other settings, whose results would mix with these.
    await expect(
      runEvalCommand([...flags, '--topk', '5', '--model', modelDir, '--out', localOut]),
    ).rejects.toThrow(/flag --out: .*another 'rollout'/);

    // The same model behind an OpenAI-compatible endpoint gives the same greedy responses.
    const model = await loadModelFolder(modelDir);
    const tokenizer = await loadTokenizer(modelDir);
    const runner = await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 });
    const server = await startCompletionsServer({
      generator: generatorFromEngine((prompts, options) => generate(runner, tokenizer, prompts, options)),
      tokenizer,
      model: 'tiny',
    });
    const endpointOut = join(root, 'endpoint');
    try {
      await runEvalCommand([
        ...flags,
        '--endpoint',
        server.url,
        '--tokenizer',
        modelDir,
        '--out',
        endpointOut,
      ]);
    } finally {
      await server.close();
      await runner.dispose();
    }
    expect(server.stats().requests).toBeGreaterThan(0);
    const responses = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
        .map((r) => `${r.dataset}/${r.method}/${r.id}: ${r.response}`)
        .sort();
    expect(responses(join(endpointOut, 'results.jsonl'))).toEqual(responses(join(localOut, 'results.jsonl')));
  }, 300_000);

  it('refuses bad flags with the flag named', async () => {
    await expect(runEvalCommand(['--data', SHARED_DATA_DIR, '--out', '/tmp/x'])).rejects.toThrow(
      /flag --model: give exactly one of --model DIR and --endpoint URL/,
    );
    await expect(
      runEvalCommand([
        '--data',
        SHARED_DATA_DIR,
        '--model',
        'm',
        '--methods',
        'direct,search',
        '--out',
        '/tmp/x',
      ]),
    ).rejects.toThrow(
      /flag --methods: unknown evaluation method 'search'. Supported: \[direct, cot, rag, agent\]/,
    );
    await expect(
      runEvalCommand(['--data', SHARED_DATA_DIR, '--model', 'm', '--limit', '0', '--out', '/tmp/x']),
    ).rejects.toThrow(/flag --limit: expected a positive integer/);
  });
});

describe('sr1-bench retrieval-quality', () => {
  it('scores BM25, hashing-dense and hybrid search on a small corpus', async () => {
    const root = mkdtempSync(join(tmpdir(), 'sr1-bench-rq-'));
    const { data, corpus } = smallData(root);
    const out = join(root, 'quality.md');
    await runRetrievalQualityCommand([
      '--data',
      data,
      '--corpus',
      corpus,
      '--out',
      out,
      '--index-dir',
      join(root, 'index'),
    ]);
    const markdown = readFileSync(out, 'utf8');
    for (const name of ['BM25', 'hashing-dense', 'hybrid (RRF)']) {
      expect(markdown).toContain(`| ${name} | nq | 3 |`);
    }
    const json = JSON.parse(readFileSync(join(root, 'quality.json'), 'utf8'));
    // The first NQ questions' gold passages are corpus ids 0-2: BM25 finds them all in its top 10.
    expect(json.results.BM25[1].dataset).toBe('nq');
    expect(json.results.BM25[1].recall['10']).toBe(1);
  }, 300_000);
});
