#!/usr/bin/env node
// `sr1-model`: make tokenizers and random models, generate, score and export to GGUF from the
// command line. Every bad flag is a CliUsageError naming the flag; `runCli` is what tests call.

import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng, Sr1Error } from '@sr1/core';
import { saveTrainedTokenizer, trainBpeTokenizer } from './bpe-trainer.js';
import { parseDecoderConfig } from './config.js';
import { createRunner, ENGINE_NAMES, type EngineName } from './engine.js';
import { CliUsageError, TokenizerError } from './errors.js';
import { generate } from './generate.js';
import { exportGguf } from './gguf.js';
import { loadModelFolder, saveModelFolder } from './model-folder.js';
import { scoreSequences } from './score.js';
import { serveModel } from './serve.js';
import { loadTokenizer } from './tokenizer.js';
import { readTokenizerTrainingTexts } from './tokenizer-corpus.js';
import { countParameters, INITIALIZER_RANGE, initWeights } from './weights.js';

/** Where a command writes; tests pass buffers, the bin passes process streams. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

type Command = (args: string[], io: CliIo) => Promise<void>;

const USAGE = `usage: sr1-model <command> [flags]
  train-tokenizer --corpus FILE.jsonl [--questions FILE.jsonl ...] --vocab-size N --out DIR
  init            --config FILE --tokenizer DIR --out DIR [--seed N] [--init-std S]
  generate        --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T] [--top-k K]
                  [--top-p P] [--seed N] [--stop STRING ...] [--chat] [--json] [ENGINE]
  score           --model DIR (--text TEXT | --tokens 1,2,3) [--json] [ENGINE]
  export-gguf     --model DIR --out FILE [--name NAME]
  serve           --model DIR [--host H] [--port N] [--max-batch N] [ENGINE]   (OpenAI /v1/completions)
ENGINE: [--engine ort|reference] [--device cpu|cuda]  (ort: the compiled graphs, default)`;

/** Parses `--flag value` arguments with node:util; unknown flags are a CliUsageError. */
function parse<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? '(arguments)';
    throw new CliUsageError(flag, message);
  }
}

/** A required string flag. */
export function requireFlag(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new CliUsageError(flag, 'is required');
  return value;
}

/** An integer flag in [min, max]. */
export function integerFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
    throw new CliUsageError(flag, `expected an integer in [${min}, ${max}], got '${value}'`);
  }
  return number;
}

/** A number flag in [min, max]. */
export function numberFlag(
  value: string | undefined,
  flag: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number < min || number > max) {
    throw new CliUsageError(flag, `expected a number in [${min}, ${max}], got '${value}'`);
  }
  return number;
}

const trainTokenizer: Command = async (args, io) => {
  const values = parse(args, {
    corpus: { type: 'string', multiple: true },
    questions: { type: 'string', multiple: true },
    'vocab-size': { type: 'string' },
    out: { type: 'string' },
  });
  const corpusFiles = values.corpus ?? [];
  if (corpusFiles.length === 0) throw new CliUsageError('--corpus', 'is required');
  const vocabSize = integerFlag(
    requireFlag(values['vocab-size'], '--vocab-size'),
    '--vocab-size',
    0,
    259,
    65535,
  );
  const out = requireFlag(values.out, '--out');
  const texts = await readTokenizerTrainingTexts({ corpusFiles, questionFiles: values.questions ?? [] });
  const trained = trainBpeTokenizer(texts, { vocabSize });
  await saveTrainedTokenizer(out, trained);
  io.stdout(
    `trained a byte-level BPE tokenizer: ${trained.vocab.size} tokens, ${trained.merges.length} merges, ${texts.length} texts → ${out}\n`,
  );
};

const init: Command = async (args, io) => {
  const values = parse(args, {
    config: { type: 'string' },
    tokenizer: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    'init-std': { type: 'string' },
  });
  const configFile = requireFlag(values.config, '--config');
  const tokenizerDir = requireFlag(values.tokenizer, '--tokenizer');
  const out = requireFlag(values.out, '--out');
  const seed = integerFlag(values.seed, '--seed', 0, 0, 2 ** 32 - 1); // fixed: same command, same model
  const std = numberFlag(values['init-std'], '--init-std', INITIALIZER_RANGE, 0, 10);
  const tokenizer = await loadTokenizer(tokenizerDir);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (error) {
    throw new CliUsageError('--config', `cannot read JSON from ${configFile}: ${(error as Error).message}`);
  }
  // The tokenizer decides what the config cannot know: vocabulary size and special ids.
  const patched = { ...(json as Record<string, unknown>) };
  patched.vocab_size ??= tokenizer.vocabSize;
  patched.eos_token_id ??=
    tokenizer.eosTokenIds.length === 1 ? tokenizer.eosTokenIds[0] : [...tokenizer.eosTokenIds];
  patched.bos_token_id ??= tokenizer.bosTokenId;
  const config = parseDecoderConfig(patched, { file: configFile });
  if (config.vocabSize < tokenizer.vocabSize) {
    throw new CliUsageError(
      '--config',
      `vocab_size ${config.vocabSize} is smaller than the tokenizer's ${tokenizer.vocabSize} ids`,
    );
  }
  const weights = initWeights(config, createRng(seed), std);
  await saveModelFolder(out, { config, weights }, { tokenizerDir });
  io.stdout(
    `initialised a ${config.modelType} model with ${countParameters(weights)} parameters (seed ${seed}) → ${out}\n`,
  );
};

const engineFlags = {
  engine: { type: 'string' },
  device: { type: 'string' },
} as const;

/** `--engine` (default ort) and `--device` (default cpu), checked. */
function engineAndDevice(values: { engine?: string; device?: string }): {
  engine: EngineName;
  device: 'cpu' | 'cuda';
} {
  const engine = values.engine ?? 'ort';
  if (!(ENGINE_NAMES as string[]).includes(engine)) {
    throw new CliUsageError(
      '--engine',
      `unknown engine '${engine}'. Supported: [${ENGINE_NAMES.join(', ')}]`,
    );
  }
  const device = values.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda') {
    throw new CliUsageError('--device', `expected cpu or cuda, got '${device}'`);
  }
  return { engine: engine as EngineName, device };
}

async function openModel(values: { model?: string; engine?: string; device?: string }) {
  const modelDir = requireFlag(values.model, '--model');
  const { engine, device } = engineAndDevice(values);
  const model = await loadModelFolder(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new TokenizerError(
      join(modelDir, 'tokenizer.json'),
      `has ${tokenizer.vocabSize} ids but the model's vocab_size is ${model.config.vocabSize}`,
    );
  }
  const runner = await createRunner(model, { engine, device });
  return { model, tokenizer, runner };
}

const generateCommand: Command = async (args, io) => {
  const values = parse(args, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    stop: { type: 'string', multiple: true },
    chat: { type: 'boolean' },
    json: { type: 'boolean' },
    ...engineFlags,
  });
  const prompt = requireFlag(values.prompt, '--prompt');
  const maxNewTokens = integerFlag(values['max-new-tokens'], '--max-new-tokens', 64, 0, 1_000_000); // a few sentences
  const temperature = numberFlag(values.temperature, '--temperature', 1, 0, 100); // the model's own distribution
  const topK = integerFlag(values['top-k'], '--top-k', 0, 0); // off
  const topP = numberFlag(values['top-p'], '--top-p', 1, Number.MIN_VALUE, 1); // off
  const seed = integerFlag(values.seed, '--seed', 0, 0, 2 ** 32 - 1); // reproducible by default
  const { tokenizer, runner } = await openModel(values);
  try {
    const text = values.chat
      ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }], { addGenerationPrompt: true })
      : prompt;
    const [result] = await generate(runner, tokenizer, [text], {
      maxNewTokens,
      temperature,
      topK,
      topP,
      seed,
      stop: values.stop ?? [],
    });
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(`${result!.text}\n[${result!.finishReason}, ${result!.tokenIds.length} tokens]\n`);
  } finally {
    await runner.dispose();
  }
};

/** Parses `--tokens 1,2,3`. */
export function parseTokenList(value: string, flag: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^\d+$/.test(part))) {
    throw new CliUsageError(flag, `expected comma-separated token ids, got '${value}'`);
  }
  return parts.map(Number);
}

const scoreCommand: Command = async (args, io) => {
  const values = parse(args, {
    model: { type: 'string' },
    text: { type: 'string' },
    tokens: { type: 'string' },
    json: { type: 'boolean' },
    ...engineFlags,
  });
  if ((values.text === undefined) === (values.tokens === undefined)) {
    throw new CliUsageError(
      values.text === undefined ? '--text' : '--tokens',
      'give exactly one of --text and --tokens',
    );
  }
  const explicit = values.tokens !== undefined ? parseTokenList(values.tokens, '--tokens') : undefined;
  const { tokenizer, runner } = await openModel(values);
  try {
    const tokens = explicit ?? tokenizer.encode(values.text!);
    if (tokens.length === 0) throw new CliUsageError('--text', 'encodes to no tokens');
    const [scored] = await scoreSequences(runner, [tokens], { padTokenId: tokenizer.padTokenId });
    if (values.json) {
      io.stdout(`${JSON.stringify({ tokens: scored!.tokenIds, logprobs: scored!.logprobs })}\n`);
    } else {
      let total = 0;
      scored!.tokenIds.forEach((id, i) => {
        const logprob = scored!.logprobs[i];
        if (logprob !== null && logprob !== undefined) total += logprob;
        io.stdout(
          `${String(id).padStart(7)}  ${(logprob ?? Number.NaN).toFixed(4).padStart(9)}  ${JSON.stringify(tokenizer.decode([id]))}\n`,
        );
      });
      io.stdout(`sum log-prob ${total.toFixed(4)} over ${scored!.tokenIds.length - 1} predicted tokens\n`);
    }
  } finally {
    await runner.dispose();
  }
};

const exportGgufCommand: Command = async (args, io) => {
  const values = parse(args, {
    model: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
  });
  const modelDir = requireFlag(values.model, '--model');
  const out = requireFlag(values.out, '--out');
  const model = await loadModelFolder(modelDir);
  const written = await exportGguf(out, model, modelDir, values.name ?? 'sr1');
  io.stdout(
    `wrote GGUF v3 (${model.config.modelType}, F32): ${written.tensors} tensors, ${written.metadata} metadata keys → ${out}\n`,
  );
};

const serveCommand: Command = async (args, io) => {
  const values = parse(args, {
    model: { type: 'string' },
    host: { type: 'string' },
    port: { type: 'string' },
    'max-batch': { type: 'string' },
    engine: { type: 'string' },
    device: { type: 'string' },
  });
  const { engine, device } = engineAndDevice(values);
  const server = await serveModel({
    model: requireFlag(values.model, '--model'),
    host: values.host ?? '127.0.0.1',
    port: integerFlag(values.port, '--port', 8000, 0, 65535),
    maxBatchSize: integerFlag(values['max-batch'], '--max-batch', 32, 1, 4096),
    engine,
    device,
  });
  io.stdout(`serving ${server.modelId} at ${server.url}/v1/completions (Ctrl-C stops)\n`);
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
};

const COMMANDS: Record<string, Command> = {
  serve: serveCommand,
  'train-tokenizer': trainTokenizer,
  init,
  generate: generateCommand,
  score: scoreCommand,
  'export-gguf': exportGgufCommand,
};

/** Runs one `sr1-model` command; returns the exit code (errors are printed, not thrown). */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    io.stdout(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr(
      `sr1-model: unknown command '${name}'. Supported: [${Object.keys(COMMANDS).join(', ')}]\n${USAGE}\n`,
    );
    return 2;
  }
  try {
    await command(args, io);
    return 0;
  } catch (error) {
    if (error instanceof Sr1Error) {
      io.stderr(`sr1-model ${name}: ${error.message}\n`);
      return error instanceof CliUsageError ? 2 : 1;
    }
    throw error;
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  runCli(process.argv.slice(2), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}
