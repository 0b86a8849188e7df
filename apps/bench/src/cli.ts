#!/usr/bin/env node

// sr1-bench: correctness checks against peers and performance benchmarks.
//   check-train-step            one SGD and one AdamW step vs PyTorch (needs python3-torch)
//   perf-train --config FILE    training tokens/s vs PyTorch, same model, batch and threads
//   eval                        the seven-dataset evaluation (direct, CoT, RAG, agent; see eval-command.ts)
//   retrieval-quality           recall@k and answer-in-passages of BM25, hashing-dense and hybrid
//   perf                        every performance benchmark vs its peer → docs/benchmarks.md (perf-command.ts)

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { InvalidInputError, Sr1Error } from '@sr1/core';
import { parseDecoderConfig } from '@sr1/model';
import { runEvalCommand, runRetrievalQualityCommand } from './eval-command.js';
import { runPerfCommand } from './perf-command.js';
import { measureTrainThroughput, TRAIN_PERF_DEFAULTS } from './train-perf.js';
import { checkTrainStep } from './train-step-check.js';

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'eval') return runEvalCommand(rest);
  if (command === 'retrieval-quality') return runRetrievalQualityCommand(rest);
  if (command === 'perf') {
    const outcomes = await runPerfCommand(rest);
    if (outcomes.some((outcome) => outcome.status === 'failed')) process.exitCode = 1;
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      batch: { type: 'string', default: String(TRAIN_PERF_DEFAULTS.batchSize) },
      length: { type: 'string', default: String(TRAIN_PERF_DEFAULTS.length) },
      threads: { type: 'string', default: String(TRAIN_PERF_DEFAULTS.threads) },
      steps: { type: 'string', default: String(TRAIN_PERF_DEFAULTS.steps) },
    },
    strict: true,
  });
  const int = (flag: 'batch' | 'length' | 'threads' | 'steps'): number => {
    const value = Number(values[flag]);
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidInputError({
        flag: `--${flag}`,
        reason: `expected a positive integer, got '${values[flag]}'`,
      });
    }
    return value;
  };
  switch (command) {
    case 'check-train-step': {
      let failed = false;
      for (const optimizer of ['sgd', 'adamw'] as const) {
        const result = await checkTrainStep(optimizer);
        const ok = result.maxRelativeWeightError <= 1e-5;
        failed ||= !ok;
        process.stdout.write(
          `${optimizer}: max relative weight error ${result.maxRelativeWeightError.toExponential(2)}, ` +
            `max relative update error ${result.maxRelativeUpdateError.toExponential(2)} (${result.worstTensor}) ` +
            `vs torch ${result.torchVersion}, loss ${result.torchLoss.toFixed(6)} — ${ok ? 'ok' : 'FAIL (> 1e-5)'}\n`,
        );
      }
      if (failed) process.exitCode = 1;
      return;
    }
    case 'perf-train': {
      if (values.config === undefined) {
        throw new InvalidInputError({ flag: '--config', reason: 'is required (an HF config.json)' });
      }
      const config = parseDecoderConfig(JSON.parse(await readFile(values.config, 'utf8')), {
        file: values.config,
      });
      const result = await measureTrainThroughput({
        config,
        batchSize: int('batch'),
        length: int('length'),
        threads: int('threads'),
        steps: int('steps'),
      });
      process.stdout.write(
        `${JSON.stringify({ ...result, ratio: result.sr1TokensPerSecond / result.torchTokensPerSecond })}\n`,
      );
      return;
    }
    default:
      throw new InvalidInputError({
        reason: `unknown command '${command ?? ''}'. Supported: [check-train-step, perf-train, perf, eval, retrieval-quality]`,
      });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(
    `sr1-bench: ${error instanceof Sr1Error ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exitCode = error instanceof InvalidInputError ? 2 : 1;
});
