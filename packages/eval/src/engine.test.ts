// End to end on real parts: a random tiny model on the ONNX engine, a real BM25 index over
// shared-corpus passages, every method — locally and through an OpenAI-compatible endpoint.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContinuousBatchScheduler,
  generate,
  generatorFromEngine,
  loadModelFolder,
  loadTokenizer,
  OpenAICompletionsGenerator,
  OrtDecoderRunner,
  sessionGenerator,
  startCompletionsServer,
} from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { exactMatch } from '@sr1/reward';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EvalDataset, loadDatasets } from './datasets.js';
import { evaluateMethod } from './methods.js';
import { buildResultsTable } from './report.js';
import { runEvaluation } from './run.js';
import { SHARED_DATA_DIR, sharedCorpusIndex, tinyModelFolder } from './testing/index.js';

const ROLLOUT = { maxTurns: 2, maxTokensPerTurn: 12, topk: 3 }; // short turns keep the test fast

let runner: OrtDecoderRunner;
let tokenizer: Awaited<ReturnType<typeof loadTokenizer>>;
let retriever: InProcessRetriever;
let datasets: EvalDataset[];

beforeAll(async () => {
  const modelDir = await tinyModelFolder(5);
  const model = await loadModelFolder(modelDir);
  tokenizer = await loadTokenizer(modelDir);
  runner = await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 });
  const index = await sharedCorpusIndex(300);
  retriever = await InProcessRetriever.open(index.dir);
  datasets = await loadDatasets([join(SHARED_DATA_DIR, 'nq.jsonl'), join(SHARED_DATA_DIR, 'hotpotqa.jsonl')]);
}, 120_000);

afterAll(async () => {
  await retriever?.close();
  await runner?.dispose();
});

const engineGenerator = () =>
  generatorFromEngine((prompts, options) => generate(runner, tokenizer, prompts, options));

describe('evaluation with a random tiny model and a BM25 index', () => {
  it('runs every method, locally and through an OpenAI-compatible endpoint, with identical greedy output', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sr1-eval-engine-'));
    const common = {
      datasets,
      methods: ['direct', 'cot', 'rag', 'agent'] as const,
      tokenizer,
      retriever,
      rollout: ROLLOUT,
      limit: 2,
      batchSize: 2,
    };
    const local = await runEvaluation({
      ...common,
      generator: engineGenerator(),
      resultsFile: join(out, 'local.jsonl'),
    });
    expect(local.records).toHaveLength(16);
    for (const record of local.records) {
      expect(record.promptTokens).toBeGreaterThan(0);
      expect(record.responseTokens).toBeGreaterThan(0);
      expect(record.exactMatch).toBe(
        record.answer === null ? 0 : exactMatch(record.answer, record.goldenAnswers),
      );
      if (record.method !== 'agent') expect(record.searches).toEqual([]);
      if (record.method === 'agent')
        expect(record.prompt).toContain('call a search engine by <search> query </search>');
      // The tokenizer has a chat template: prompts are rendered as a user turn.
      expect(record.prompt).toContain('<|im_start|>user\n');
    }
    // RAG retrieves once, with the question: NQ's first question finds its gold passage (corpus id 0).
    const rag = local.records.find((r) => r.method === 'rag' && r.id === 'nq_dev_0')!;
    expect(rag.retrieved).toHaveLength(3);
    expect(rag.retrieved.map((d) => d.id)).toContain('0');
    expect(rag.prompt).toContain('Doc 1(Title: ');

    const server = await startCompletionsServer({ generator: engineGenerator(), tokenizer, model: 'tiny' });
    try {
      const endpoint = new OpenAICompletionsGenerator({ baseUrls: [server.url], model: 'tiny', tokenizer });
      const remote = await runEvaluation({
        ...common,
        generator: endpoint,
        resultsFile: join(out, 'endpoint.jsonl'),
      });
      expect(server.stats().requests).toBeGreaterThan(0);
      expect(remote.records.map((r) => [r.method, r.id, r.response])).toEqual(
        local.records.map((r) => [r.method, r.id, r.response]),
      );
    } finally {
      await server.close();
    }

    const table = buildResultsTable(local.records);
    expect(table.datasets).toEqual(['nq', 'hotpotqa']); // files in the order given
    expect(table.rows.map((r) => r.method)).toEqual(['direct', 'cot', 'rag', 'agent']);
  }, 300_000);

  it('through sessions (the async loop on the continuous-batching scheduler) gives the same records as the generator', async () => {
    const questions = datasets.flatMap((dataset) => dataset.questions.slice(0, 3));
    for (const method of ['direct', 'rag', 'agent'] as const) {
      const parts = { tokenizer, retriever, rollout: ROLLOUT };
      const locked = await evaluateMethod(method, 'mixed', questions, {
        ...parts,
        generator: engineGenerator(),
      });
      const scheduler = new ContinuousBatchScheduler(runner, tokenizer);
      const sessions = await evaluateMethod(method, 'mixed', questions, {
        ...parts,
        sessions: sessionGenerator(scheduler),
      });
      expect(sessions.map((r) => [r.id, r.prompt, r.response, r.answer, r.searches, r.turns])).toEqual(
        locked.map((r) => [r.id, r.prompt, r.response, r.answer, r.searches, r.turns]),
      );
      expect(scheduler.stats().decodedTokens).toBeGreaterThan(0); // the sessions generated, not a fallback
      expect(scheduler.sessionCount).toBe(0); // every trajectory released its session
    }
    await expect(
      evaluateMethod('direct', 'mixed', questions, { tokenizer, rollout: ROLLOUT }),
    ).rejects.toThrow('needs a generator or sessions');
  }, 300_000);
});
