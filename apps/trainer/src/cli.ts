#!/usr/bin/env node
// sr1-train: `sft --config FILE [--resume]`, `rl --config FILE [--resume]`, `make-base`, `demo`.
// Bad flags and configs get typed errors naming the flag or the field; exit code 2.

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidInputError, Sr1Error } from '@sr1/core';
import { runDemo } from './demo.js';
import { makeBasePolicy } from './make-base.js';
import { loadRlConfig } from './rl-config.js';
import { runRl } from './rl-run.js';
import { loadSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';

const asset = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const modelAsset = (path: string) =>
  fileURLToPath(new URL(`../../../packages/model/${path}`, import.meta.url));

const USAGE = `usage:
  sr1-train sft --config FILE [--resume]      supervised training (HF folder or random init)
  sr1-train rl --config FILE [--resume]       Search-R1 RL (GRPO) with the engine and a local index
  sr1-train make-base [--out DIR] [--steps N] [--seed N] [--worlds N] [--from DIR --lr LR]
                                              the toy world's base policy (SFT on demonstrations)
  sr1-train demo [--steps N] [--out DIR] [--algorithm grpo|ppo] [--unmasked] [--seed N] [--base DIR] [--threads N]
                                              the toy-world demo: baselines, RL, held-out table, report`;

function flagNumber(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) {
    throw new InvalidInputError({ flag, reason: `expected a non-negative integer, got '${value}'` });
  }
  return number;
}

function flagChoice<T extends string>(
  value: string | undefined,
  flag: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new InvalidInputError({ flag, reason: `expected one of ${choices.join(', ')}, got '${value}'` });
  }
  return value as T;
}

function atLeastOne(value: number, flag: string): number {
  if (value < 1) throw new InvalidInputError({ flag, reason: `expected at least 1, got ${value}` });
  return value;
}

function flagRate(value: string, flag: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    throw new InvalidInputError({ flag, reason: `expected a positive number, got '${value}'` });
  }
  return number;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string' },
      resume: { type: 'boolean', default: false },
      out: { type: 'string' },
      steps: { type: 'string' },
      from: { type: 'string' },
      seed: { type: 'string' },
      lr: { type: 'string' },
      worlds: { type: 'string' },
      algorithm: { type: 'string' },
      unmasked: { type: 'boolean', default: false },
      base: { type: 'string' },
      threads: { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const needConfig = (): string => {
    if (values.config === undefined) throw new InvalidInputError({ flag: '--config', reason: 'is required' });
    return values.config;
  };
  switch (command) {
    case 'sft': {
      const result = await runSft(await loadSftConfig(needConfig()), {
        resume: values.resume,
        quiet: values.quiet,
      });
      process.stdout.write(
        `sft done: ${result.steps} steps, last loss ${result.lastLoss.toFixed(4)}, ` +
          `${result.tokensPerSecond.toFixed(0)} tokens/s; model in ${result.finalDir}\n`,
      );
      return;
    }
    case 'rl': {
      const result = await runRl(await loadRlConfig(needConfig()), {
        resume: values.resume,
        quiet: values.quiet,
      });
      const last = result.validations.at(-1);
      process.stdout.write(
        `rl done: ${result.steps} steps; validation EM ${last?.summary.exactMatch.toFixed(3) ?? 'n/a'}; metrics in ${result.metricsFile}\n`,
      );
      return;
    }
    case 'make-base': {
      const result = await makeBasePolicy({
        out: values.out ?? asset('assets/base-policy'),
        workDir: `runs/make-base-seed${flagNumber(values.seed, '--seed', 11)}`,
        modelConfig: asset('assets/base-model-config.json'),
        tokenizer: modelAsset('assets/tokenizer-small'),
        seed: flagNumber(values.seed, '--seed', 11),
        worlds: atLeastOne(flagNumber(values.worlds, '--worlds', 60), '--worlds'),
        questionsPerType: 20,
        steps: flagNumber(values.steps, '--steps', 1000),
        ...(values.from !== undefined ? { from: values.from } : {}),
        ...(values.lr !== undefined ? { lr: flagRate(values.lr, '--lr') } : {}),
        quiet: values.quiet,
      });
      process.stdout.write(
        `base policy: SFT loss ${result.lastLoss.toFixed(4)}, ${result.tokensPerSecond.toFixed(0)} tokens/s\n`,
      );
      return;
    }
    case 'demo': {
      await runDemo({
        out: values.out ?? 'runs/demo',
        basePolicy: values.base ?? asset('assets/base-policy'),
        steps: flagNumber(values.steps, '--steps', 100),
        algorithm: flagChoice(values.algorithm, '--algorithm', ['grpo', 'ppo'] as const, 'grpo'),
        maskRetrievedTokens: !values.unmasked,
        seed: flagNumber(values.seed, '--seed', 1),
        ...(values.threads !== undefined ? { threads: flagNumber(values.threads, '--threads', 0) } : {}),
        quiet: values.quiet,
      });
      return;
    }
    default:
      throw new InvalidInputError({ reason: `unknown command '${command ?? ''}'\n${USAGE}` });
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof Sr1Error || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) {
    process.stderr.write(`sr1-train: ${(error as Error).message}\n`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`sr1-train: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
});
