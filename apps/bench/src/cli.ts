#!/usr/bin/env node
// sr1-bench: correctness checks against peers and performance benchmarks, on `@sr1/core`'s
// command layer: typed flags, `--help`/`-h` on every command, every error as one typed line.
//   check-train-step            one SGD and one AdamW step vs PyTorch (needs python3-torch)
//   perf-train --config FILE    training tokens/s vs PyTorch, same model, batch and threads
//   eval                        the seven-dataset evaluation (direct, CoT, RAG, agent; see eval-command.ts)
//   retrieval-quality           recall@k and answer-in-passages of BM25, hashing-dense and hybrid
//   perf                        every performance benchmark vs its peer → docs/benchmarks.md (perf-command.ts)

import { readFile } from 'node:fs/promises';
import {
  type CliIo,
  type CliProgram,
  CliUsageError,
  type CommandSpec,
  isMainModule,
  parseCommand,
  runCli,
  runProcess,
} from '@sr1/core';
import { EVAL_METHOD_NAMES, RETRIEVAL_QUALITY_DEFAULTS } from '@sr1/eval';
import { parseDecoderConfig } from '@sr1/model';
import { BenchFailedError } from './errors.js';
import { runEvalCommand, runRetrievalQualityCommand } from './eval-command.js';
import { PERF_DEFAULTS, runPerfCommand } from './perf-command.js';
import { PERF_BENCHMARKS } from './perf-report.js';
import { measureTrainThroughput, TRAIN_PERF_DEFAULTS } from './train-perf.js';
import { checkTrainStep } from './train-step-check.js';

const checkTrainStepSpec = {
  name: 'sr1-bench check-train-step',
  summary: 'one SGD and one AdamW step vs PyTorch (needs python3-torch)',
  flags: {},
  notes: 'Fails (exit 1) when a weight differs from PyTorch by more than 1e-5 (relative).',
} as const satisfies CommandSpec;

const perfTrainSpec = {
  name: 'sr1-bench perf-train',
  summary: 'training tokens/s vs PyTorch, same model, batch and threads',
  flags: {
    config: { type: 'string', required: true, placeholder: 'FILE', description: 'an HF config.json' },
    batch: {
      type: 'integer',
      default: TRAIN_PERF_DEFAULTS.batchSize,
      min: 1,
      description: 'sequences per step',
    },
    length: {
      type: 'integer',
      default: TRAIN_PERF_DEFAULTS.length,
      min: 1,
      description: 'tokens per sequence',
    },
    threads: {
      type: 'integer',
      default: TRAIN_PERF_DEFAULTS.threads,
      min: 1,
      description: 'threads of each engine',
    },
    steps: { type: 'integer', default: TRAIN_PERF_DEFAULTS.steps, min: 1, description: 'timed steps' },
  },
} as const satisfies CommandSpec;

// eval, retrieval-quality and perf check their flags' values themselves (eval-command.ts,
// perf-command.ts); these specs give them help and typed errors for unknown or malformed flags.
const evalSpec = {
  name: 'sr1-bench eval',
  summary: 'the seven-dataset evaluation: direct, CoT, RAG and agent',
  flags: {
    data: {
      type: 'string',
      multiple: true,
      placeholder: 'DIR_OR_FILES',
      description: 'dataset folders or JSONL files (comma-separated or repeated; required)',
    },
    model: { type: 'string', placeholder: 'DIR', description: 'HF model folder run on the engine' },
    endpoint: {
      type: 'string',
      placeholder: 'URL[,URL]',
      description: 'OpenAI-compatible /v1/completions endpoints (instead of --model)',
    },
    'endpoint-model': {
      type: 'string',
      default: 'default',
      placeholder: 'NAME',
      description: "model name sent to --endpoint ('default': none, the server's own)",
    },
    tokenizer: { type: 'string', placeholder: 'DIR', description: 'tokenizer folder (with --endpoint)' },
    index: { type: 'string', placeholder: 'DIR', description: 'index folder searched in-process' },
    retriever: { type: 'string', placeholder: 'URL', description: 'a /retrieve server (instead of --index)' },
    'search-method': {
      type: 'string',
      placeholder: 'bm25|dense|hybrid',
      description: 'search method of --index',
    },
    methods: {
      type: 'string',
      default: EVAL_METHOD_NAMES.join(','),
      placeholder: 'LIST',
      description: 'comma-separated evaluation methods',
    },
    limit: { type: 'string', placeholder: 'N', description: 'questions per dataset' },
    out: { type: 'string', placeholder: 'DIR', description: 'output folder (required; resumable)' },
    device: { type: 'string', default: 'cpu', placeholder: 'cpu|cuda', description: 'engine device' },
    'batch-size': { type: 'string', placeholder: 'N', description: 'questions per generation batch' },
    concurrency: { type: 'string', placeholder: 'N', description: 'concurrent endpoint requests' },
    'max-turns': { type: 'string', placeholder: 'N', description: 'agent turns (search calls)' },
    'max-tokens-per-turn': { type: 'string', placeholder: 'N', description: 'generated tokens per turn' },
    topk: { type: 'string', placeholder: 'N', description: 'passages per search' },
    'no-chat-template': {
      type: 'boolean',
      description: "do not wrap prompts in the tokenizer's chat template",
    },
  },
} as const satisfies CommandSpec;

const retrievalQualitySpec = {
  name: 'sr1-bench retrieval-quality',
  summary: 'recall@k and answer-in-passages of BM25, hashing-dense and hybrid search',
  flags: {
    data: {
      type: 'string',
      multiple: true,
      placeholder: 'DIR_OR_FILES',
      description: 'dataset folders or JSONL files (required)',
    },
    corpus: { type: 'string', placeholder: 'FILE', description: 'corpus JSONL (required)' },
    supporting: { type: 'string', placeholder: 'FILE', description: 'supporting passages per question' },
    out: {
      type: 'string',
      placeholder: 'FILE',
      description: 'markdown table to write (required; JSON beside it)',
    },
    'index-dir': { type: 'string', placeholder: 'DIR', description: 'where to build the hybrid index' },
    limit: { type: 'string', placeholder: 'N', description: 'questions per dataset' },
    ks: {
      type: 'string',
      default: RETRIEVAL_QUALITY_DEFAULTS.ks.join(','),
      placeholder: 'LIST',
      description: 'recall cut-offs',
    },
  },
} as const satisfies CommandSpec;

const perfSpec = {
  name: 'sr1-bench perf',
  summary: 'every performance benchmark vs its peer → docs/benchmarks.md',
  flags: {
    only: { type: 'string', placeholder: PERF_BENCHMARKS.join(','), description: 'the benchmarks to run' },
    quick: { type: 'boolean', description: 'small sizes, a smoke test: prints the rows, writes nothing' },
    out: {
      type: 'string',
      placeholder: 'FILE|-',
      description: `the file whose generated section is updated, - for stdout (default ${PERF_DEFAULTS.out})`,
    },
    data: {
      type: 'string',
      placeholder: 'DIR',
      description: `the shared data (default ${PERF_DEFAULTS.data})`,
    },
    'dry-run': { type: 'boolean', description: 'which benchmarks can run here, and why the others cannot' },
    index: { type: 'string', placeholder: 'DIR', description: 'reuse a hybrid index' },
    'torch-python': { type: 'string', placeholder: 'PY[,PY…]', description: 'the PyTorch peer(s)' },
    'faiss-python': {
      type: 'string',
      placeholder: 'PY',
      description: `the FAISS peer (default ${PERF_DEFAULTS.faissPython})`,
    },
    llamacpp: { type: 'string', placeholder: 'DIR', description: 'where node-llama-cpp is installed' },
    'train-config': {
      type: 'string',
      placeholder: 'FILE',
      description: `the trained model (default ${PERF_DEFAULTS.trainConfig})`,
    },
    threads: {
      type: 'string',
      placeholder: 'LIST',
      description: `thread counts to sweep; each engine and peer is reported at its best (default ${PERF_DEFAULTS.threads.join(',')}, 1..cores)`,
    },
    json: {
      type: 'boolean',
      description:
        'print the rows as a JSON array [{id, what, sr1, peer, ratio, unit, …}]; writes no file without --out',
    },
  },
  notes:
    'Run from the repository root. A benchmark whose peer or input is missing is skipped with the reason.',
} as const satisfies CommandSpec;

/** node:util parseArgs errors of the commands that parse their own flags, as usage errors. */
async function withUsageErrors(spec: CommandSpec, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
      const message = (error as Error).message;
      throw new CliUsageError(
        /'(-{1,2}[^' ,]+)/.exec(message)?.[1] ?? '(arguments)',
        `${message}; see ${spec.name} --help`,
      );
    }
    throw error;
  }
}

/** The `sr1-bench` program: its subcommands, as `@sr1/core`'s `runCli` dispatches them. */
export const program: CliProgram = {
  name: 'sr1-bench',
  summary: 'the evaluation, checks against PyTorch, and performance benchmarks against peers',
  commands: {
    'check-train-step': {
      summary: checkTrainStepSpec.summary,
      async run(args, io) {
        parseCommand(checkTrainStepSpec, args);
        const failed: string[] = [];
        for (const optimizer of ['sgd', 'adamw'] as const) {
          const result = await checkTrainStep(optimizer);
          const ok = result.maxRelativeWeightError <= 1e-5;
          if (!ok) failed.push(optimizer);
          io.stdout(
            `${optimizer}: max relative weight error ${result.maxRelativeWeightError.toExponential(2)}, ` +
              `max relative update error ${result.maxRelativeUpdateError.toExponential(2)} (${result.worstTensor}) ` +
              `vs torch ${result.torchVersion}, loss ${result.torchLoss.toFixed(6)} — ${ok ? 'ok' : 'FAIL (> 1e-5)'}\n`,
          );
        }
        if (failed.length > 0)
          throw new BenchFailedError(`${failed.join(', ')} differ from PyTorch by more than 1e-5`);
      },
    },
    'perf-train': {
      summary: perfTrainSpec.summary,
      async run(args, io) {
        const { values } = parseCommand(perfTrainSpec, args);
        const config = parseDecoderConfig(JSON.parse(await readFile(values.config, 'utf8')), {
          file: values.config,
        });
        const result = await measureTrainThroughput({
          config,
          batchSize: values.batch,
          length: values.length,
          threads: values.threads,
          steps: values.steps,
        });
        io.stdout(
          `${JSON.stringify({ ...result, ratio: result.sr1TokensPerSecond / result.torchTokensPerSecond })}\n`,
        );
      },
    },
    eval: {
      summary: evalSpec.summary,
      async run(args) {
        parseCommand(evalSpec, args);
        await withUsageErrors(evalSpec, () => runEvalCommand(args));
      },
    },
    'retrieval-quality': {
      summary: retrievalQualitySpec.summary,
      async run(args) {
        parseCommand(retrievalQualitySpec, args);
        await withUsageErrors(retrievalQualitySpec, () => runRetrievalQualityCommand(args));
      },
    },
    perf: {
      summary: perfSpec.summary,
      async run(args, io) {
        parseCommand(perfSpec, args);
        const outcomes = await runPerfCommand(args, io);
        const failed = outcomes.filter((outcome) => outcome.status === 'failed');
        if (failed.length > 0) {
          throw new BenchFailedError(
            `${failed.length} benchmark(s) failed: ${failed.map((outcome) => outcome.benchmark).join(', ')}`,
          );
        }
      },
    },
  },
  notes:
    'Every command answers --help. Peers (PyTorch, FAISS, llama.cpp) are installed separately: see the README.',
};

/** Runs `sr1-bench` with `argv` (without node and the script), writing to `io`; returns the exit code. */
export function runBenchCli(argv: readonly string[], io?: CliIo): Promise<number> {
  return runCli(program, argv, io);
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  await runProcess(program, argv);
}

if (isMainModule(import.meta.url)) void main();
