// `sr1-bench eval` and `sr1-bench retrieval-quality`: assemble a model (local HF folder on the
// engine, or OpenAI-compatible endpoints), a retriever (index folder or /retrieve URL) and the
// datasets, then run @sr1/eval and write results, tables and the resolved config into --out.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError } from '@sr1/core';
import {
  buildResultsTable,
  EVAL_METHOD_NAMES,
  EVALUATION_DEFAULTS,
  type EvalMethod,
  loadDatasets,
  measureRetrievalQuality,
  ProgressDisplay,
  parseMethod,
  RETRIEVAL_QUALITY_DEFAULTS,
  type RetrievalQuality,
  readSupportingPassages,
  renderHtml,
  renderMarkdown,
  renderRetrievalQualityMarkdown,
  runEvaluation,
} from '@sr1/eval';
import {
  createRunner,
  generate,
  generatorFromEngine,
  loadModelFolder,
  loadTokenizer,
  OpenAICompletionsGenerator,
} from '@sr1/model';
import { buildIndex, HttpRetriever, InProcessRetriever, type SearchMethod } from '@sr1/retriever';
import {
  DEFAULT_ROLLOUT_CONFIG,
  type Generator,
  type Retriever,
  type RolloutConfig,
  type Tokenizer,
} from '@sr1/rollout';

export const EVAL_USAGE = `sr1-bench eval --data DIR_OR_FILES --model DIR|--endpoint URL[,URL] --index DIR|--retriever URL
  --methods direct,cot,rag,agent [--limit N] --out DIR
  [--tokenizer DIR] [--endpoint-model NAME] [--search-method bm25|dense|hybrid] [--device cpu|cuda]
  [--batch-size N] [--concurrency N] [--max-turns N] [--max-tokens-per-turn N] [--topk N] [--no-chat-template]`;

export const RETRIEVAL_QUALITY_USAGE = `sr1-bench retrieval-quality --data DIR_OR_FILES --corpus FILE --out FILE
  [--supporting FILE] [--index-dir DIR] [--limit N] [--ks 1,3,10]`;

function positiveInt(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new InvalidInputError({ flag, reason: `expected a positive integer, got '${value}'` });
  }
  return number;
}

function list(value: string | string[] | undefined): string[] {
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

const SEARCH_METHODS: SearchMethod[] = ['bm25', 'dense', 'hybrid'];

/** The fully resolved configuration of an eval run, written as `config.json` beside the results. */
export interface EvalRunConfig {
  data: string[];
  datasets: { name: string; file: string; questions: number }[];
  model:
    | { kind: 'local'; dir: string; device: 'cpu' | 'cuda' }
    | { kind: 'endpoint'; urls: string[]; model: string; tokenizer: string };
  retriever:
    | { kind: 'index'; dir: string; method: SearchMethod | 'index default' }
    | { kind: 'url'; url: string }
    | null;
  methods: EvalMethod[];
  limit: number | null;
  batchSize: number;
  concurrency: number;
  chatTemplate: 'auto' | false;
  rollout: RolloutConfig;
  out: string;
}

/**
 * Resuming appends to results.jsonl, so a rerun must score the same way: an --out whose config.json
 * names another model, retriever, prompt mode or rollout limits is refused.
 */
function refuseOtherRun(out: string, config: EvalRunConfig): void {
  const file = join(out, 'config.json');
  if (!existsSync(file)) return;
  const previous = JSON.parse(readFileSync(file, 'utf8')) as Partial<EvalRunConfig>;
  for (const key of ['model', 'retriever', 'chatTemplate', 'rollout'] as const) {
    if (JSON.stringify(previous[key]) !== JSON.stringify(config[key])) {
      throw new InvalidInputError({
        flag: '--out',
        file,
        reason: `holds results of a run with another '${key}' (${JSON.stringify(previous[key])}); resume only with the same settings, or pick another --out`,
      });
    }
  }
}

/** Runs `sr1-bench eval` with the arguments after the command name. */
export async function runEvalCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', multiple: true },
      model: { type: 'string' },
      endpoint: { type: 'string' },
      'endpoint-model': { type: 'string', default: 'default' },
      tokenizer: { type: 'string' },
      index: { type: 'string' },
      retriever: { type: 'string' },
      'search-method': { type: 'string' },
      methods: { type: 'string', default: EVAL_METHOD_NAMES.join(',') },
      limit: { type: 'string' },
      out: { type: 'string' },
      device: { type: 'string', default: 'cpu' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      'max-turns': { type: 'string' },
      'max-tokens-per-turn': { type: 'string' },
      topk: { type: 'string' },
      'no-chat-template': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const data = list(values.data);
  if (data.length === 0)
    throw new InvalidInputError({ flag: '--data', reason: 'is required; see sr1-bench eval --help' });
  if (values.out === undefined)
    throw new InvalidInputError({ flag: '--out', reason: 'is required; see sr1-bench eval --help' });
  if ((values.model === undefined) === (values.endpoint === undefined)) {
    throw new InvalidInputError({
      flag: '--model',
      reason: 'give exactly one of --model DIR and --endpoint URL',
    });
  }
  if (values.index !== undefined && values.retriever !== undefined) {
    throw new InvalidInputError({
      flag: '--index',
      reason: 'give at most one of --index DIR and --retriever URL',
    });
  }
  const methods = list(values.methods).map((name) => {
    try {
      return parseMethod(name);
    } catch (error) {
      throw new InvalidInputError({
        flag: '--methods',
        reason: (error as InvalidInputError).reason ?? String(error),
      });
    }
  });
  if (values.device !== 'cpu' && values.device !== 'cuda') {
    throw new InvalidInputError({ flag: '--device', reason: `expected cpu or cuda, got '${values.device}'` });
  }
  const searchMethod = values['search-method'];
  if (searchMethod !== undefined && !SEARCH_METHODS.includes(searchMethod as SearchMethod)) {
    throw new InvalidInputError({
      flag: '--search-method',
      reason: `unknown search method '${searchMethod}'. Supported: [${SEARCH_METHODS.join(', ')}]`,
    });
  }
  const limit = positiveInt('--limit', values.limit);
  const batchSize = positiveInt('--batch-size', values['batch-size']) ?? EVALUATION_DEFAULTS.batchSize;
  const concurrency = positiveInt('--concurrency', values.concurrency) ?? EVALUATION_DEFAULTS.concurrency;
  const maxTurns =
    values['max-turns'] === undefined ? DEFAULT_ROLLOUT_CONFIG.maxTurns : Number(values['max-turns']);
  if (!Number.isInteger(maxTurns) || maxTurns < 0) {
    throw new InvalidInputError({
      flag: '--max-turns',
      reason: `expected an integer >= 0, got '${values['max-turns']}'`,
    });
  }
  const rollout: RolloutConfig = {
    ...DEFAULT_ROLLOUT_CONFIG,
    maxTurns,
    maxTokensPerTurn:
      positiveInt('--max-tokens-per-turn', values['max-tokens-per-turn']) ??
      DEFAULT_ROLLOUT_CONFIG.maxTokensPerTurn,
    topk: positiveInt('--topk', values.topk) ?? DEFAULT_ROLLOUT_CONFIG.topk,
    temperature: 0, // greedy, as the paper's evaluation
    topP: 1,
  };
  if (values.model !== undefined && concurrency > 1) {
    throw new InvalidInputError({
      flag: '--concurrency',
      reason: 'applies to --endpoint; a local engine runs one batch at a time (raise --batch-size instead)',
    });
  }
  const out = resolve(values.out);
  const datasets = await loadDatasets(data);

  // Model.
  let generator: Generator;
  let tokenizer: Tokenizer;
  let modelEntry: EvalRunConfig['model'];
  let dispose = async () => {};
  if (values.model !== undefined) {
    const model = await loadModelFolder(values.model);
    const modelTokenizer = await loadTokenizer(values.tokenizer ?? values.model);
    tokenizer = modelTokenizer;
    const runner = await createRunner(model, { device: values.device });
    generator = generatorFromEngine((prompts, options) => generate(runner, modelTokenizer, prompts, options));
    dispose = () => runner.dispose();
    // The running context plus one turn must fit the model's positions.
    rollout.maxPromptTokens = Math.min(
      rollout.maxPromptTokens,
      model.config.maxPositionEmbeddings - rollout.maxTokensPerTurn,
    );
    rollout.maxStartTokens = Math.min(rollout.maxStartTokens, rollout.maxPromptTokens);
    if (rollout.maxPromptTokens < 1) {
      throw new InvalidInputError({
        flag: '--max-tokens-per-turn',
        reason: `${rollout.maxTokensPerTurn} tokens per turn leave no room for a prompt in ${model.config.maxPositionEmbeddings} positions`,
      });
    }
    modelEntry = { kind: 'local', dir: resolve(values.model), device: values.device };
  } else {
    const urls = list(values.endpoint);
    if (values.tokenizer === undefined) {
      throw new InvalidInputError({
        flag: '--tokenizer',
        reason: "is required with --endpoint (the served model's tokenizer folder)",
      });
    }
    tokenizer = await loadTokenizer(values.tokenizer);
    generator = new OpenAICompletionsGenerator({
      baseUrls: urls,
      // 'default': name no model, so the server serves its own (OpenAI servers 404 an unknown name)
      ...(values['endpoint-model'] !== 'default' ? { model: values['endpoint-model'] } : {}),
      tokenizer,
    });
    modelEntry = {
      kind: 'endpoint',
      urls,
      model: values['endpoint-model'],
      tokenizer: resolve(values.tokenizer),
    };
  }

  // Retriever.
  let retriever: Retriever | undefined;
  let retrieverEntry: EvalRunConfig['retriever'] = null;
  if (values.index !== undefined) {
    const inProcess = await InProcessRetriever.open(
      values.index,
      searchMethod === undefined ? {} : { method: searchMethod as SearchMethod },
    );
    retriever = inProcess;
    const previous = dispose;
    dispose = async () => {
      await previous();
      await inProcess.close();
    };
    retrieverEntry = {
      kind: 'index',
      dir: resolve(values.index),
      method: (searchMethod as SearchMethod) ?? 'index default',
    };
  } else if (values.retriever !== undefined) {
    retriever = new HttpRetriever({ url: values.retriever });
    retrieverEntry = { kind: 'url', url: values.retriever };
  }

  const config: EvalRunConfig = {
    data,
    datasets: datasets.map((d) => ({ name: d.name, file: d.file, questions: d.questions.length })),
    model: modelEntry,
    retriever: retrieverEntry,
    methods,
    limit: limit ?? null,
    batchSize,
    concurrency,
    chatTemplate: values['no-chat-template'] ? false : 'auto',
    rollout,
    out,
  };
  refuseOtherRun(out, config);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  process.stderr.write(
    `datasets: ${config.datasets.map((d) => `${d.name} (${d.questions}, ${d.file})`).join(', ')}\n`,
  );

  const total =
    datasets.reduce((sum, d) => sum + Math.min(limit ?? Infinity, d.questions.length), 0) * methods.length;
  const progress = new ProgressDisplay(total, 'eval');
  progress.start(0);
  const started = performance.now();
  try {
    const result = await runEvaluation({
      datasets,
      methods,
      generator,
      tokenizer,
      ...(retriever !== undefined ? { retriever } : {}),
      rollout,
      prompt: { chatTemplate: config.chatTemplate },
      ...(limit !== undefined ? { limit } : {}),
      batchSize,
      concurrency,
      resultsFile: join(out, 'results.jsonl'),
      onProgress: (p) => progress.update(p.done, `${p.dataset}/${p.method} | EM ${p.exactMatch.toFixed(3)}`),
    });
    progress.stop();
    const table = buildResultsTable(result.records);
    const markdown = renderMarkdown(table);
    writeFileSync(join(out, 'table.md'), markdown);
    writeFileSync(join(out, 'table.json'), `${JSON.stringify(table, null, 2)}\n`);
    writeFileSync(join(out, 'table.html'), renderHtml(table, 'sr1 evaluation', { records: result.records }));
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(
      `${markdown}\n${result.evaluated} evaluated, ${result.resumed} resumed from ${join(out, 'results.jsonl')} in ${seconds.toFixed(1)} s; tables in ${out}\n`,
    );
  } finally {
    progress.stop();
    await dispose();
  }
}

/** Runs `sr1-bench retrieval-quality`: builds one hybrid index (BM25 + hashing dense) and scores bm25, dense and hybrid search. */
export async function runRetrievalQualityCommand(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string', multiple: true },
      corpus: { type: 'string' },
      supporting: { type: 'string' },
      out: { type: 'string' },
      'index-dir': { type: 'string' },
      limit: { type: 'string' },
      ks: { type: 'string', default: RETRIEVAL_QUALITY_DEFAULTS.ks.join(',') },
    },
    strict: true,
  });
  const data = list(values.data);
  if (data.length === 0)
    throw new InvalidInputError({
      flag: '--data',
      reason: 'is required; see sr1-bench retrieval-quality --help',
    });
  if (values.corpus === undefined)
    throw new InvalidInputError({
      flag: '--corpus',
      reason: 'is required; see sr1-bench retrieval-quality --help',
    });
  if (values.out === undefined)
    throw new InvalidInputError({
      flag: '--out',
      reason: 'is required; see sr1-bench retrieval-quality --help',
    });
  if (!existsSync(values.corpus))
    throw new InvalidInputError({ flag: '--corpus', file: values.corpus, reason: 'no such file' });
  const ks = list(values.ks).map((k) => positiveInt('--ks', k)!);
  const limit = positiveInt('--limit', values.limit);
  const datasets = await loadDatasets(data);
  const supportingFile =
    values.supporting ?? data.map((path) => join(path, 'supporting.jsonl')).find((file) => existsSync(file));
  const supporting = supportingFile === undefined ? undefined : readSupportingPassages(supportingFile);

  // One hybrid folder holds the BM25 index and the hashing-dense vectors; each method searches it.
  const indexDir =
    values['index-dir'] ?? join(mkdtempSync(join(tmpdir(), 'sr1-retrieval-quality-')), 'index');
  const buildStarted = performance.now();
  const manifest = await buildIndex({
    corpus: values.corpus,
    out: indexDir,
    kind: 'hybrid',
    encoder: { type: 'hashing' },
  });
  const buildSeconds = (performance.now() - buildStarted) / 1000;
  process.stderr.write(
    `built a hybrid index of ${manifest.corpus.passages} passages in ${buildSeconds.toFixed(1)} s (${indexDir})\n`,
  );

  const results: Record<string, RetrievalQuality[]> = {};
  const names: Record<SearchMethod, string> = {
    bm25: 'BM25',
    dense: 'hashing-dense',
    hybrid: 'hybrid (RRF)',
  };
  for (const method of SEARCH_METHODS) {
    const retriever = await InProcessRetriever.open(indexDir, { method, exact: true });
    const total = datasets.reduce((sum, d) => sum + Math.min(limit ?? Infinity, d.questions.length), 0);
    const progress = new ProgressDisplay(total, names[method]);
    progress.start(0);
    try {
      results[names[method]] = await measureRetrievalQuality({
        datasets,
        retriever,
        ks,
        ...(supporting !== undefined ? { supporting } : {}),
        ...(limit !== undefined ? { limit } : {}),
        onProgress: (done) => progress.update(done, ''),
      });
    } finally {
      progress.stop();
      await retriever.close();
    }
  }
  const markdown = renderRetrievalQualityMarkdown(results, ks);
  const out = resolve(values.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, markdown);
  const jsonFile =
    extname(out) === '.json' ? `${out}.json` : `${out.slice(0, out.length - extname(out).length)}.json`;
  writeFileSync(
    jsonFile,
    `${JSON.stringify({ corpus: resolve(values.corpus), supporting: supportingFile ?? null, ks, limit: limit ?? null, index: manifest, results }, null, 2)}\n`,
  );
  process.stdout.write(`${markdown}\nwritten to ${out} and ${jsonFile}\n`);
}
