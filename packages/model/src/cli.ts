#!/usr/bin/env node
// `sr1-model`: make tokenizers and random models, generate, score, export to GGUF and serve from
// the command line, on `@sr1/core`'s command layer: typed flags, `--help`/`-h` on every command,
// and every error as one typed line (exit 2 for bad input, 1 for internal errors).

import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type CliIo,
  type CliProgram,
  type CommandSpec,
  createRng,
  type FlagSpecs,
  isMainModule,
  parseCommand,
  runProcess,
  runCli as runProgram,
} from '@sr1/core';
import { CliUsageError, ModelConfigError, TokenizerError } from './errors.js';
import { checkDecoderFitsMemory, parseDecoderConfig } from './formats/config.js';
import { exportGguf } from './formats/gguf.js';
import { loadModelFolder, saveModelFolderAtomically } from './formats/model-folder.js';
import { countParameters, INITIALIZER_RANGE, initWeights } from './formats/weights.js';
import { createRunner, ENGINE_NAMES, type EngineName } from './inference/engine.js';
import { generate } from './inference/generate.js';
import { scoreSequences } from './inference/score.js';
import { serveModel } from './serving/serve.js';
import { saveTrainedTokenizer, trainBpeTokenizer } from './tokenizer/bpe-trainer.js';
import { loadTokenizer } from './tokenizer/tokenizer.js';
import { readTokenizerTrainingTexts } from './tokenizer/tokenizer-corpus.js';

export type { CliIo } from '@sr1/core';

const engineFlags = {
  engine: {
    type: 'choice',
    choices: ENGINE_NAMES,
    default: 'ort',
    description: 'ort: the compiled graphs; reference: the plain TypeScript decoder',
  },
  device: { type: 'choice', choices: ['cpu', 'cuda'], default: 'cpu', description: 'where ort runs' },
} as const satisfies FlagSpecs;

const modelFlag = {
  type: 'string',
  required: true,
  placeholder: 'DIR',
  description: 'HF-style model folder (config.json, model.safetensors, tokenizer.json)',
} as const;

const trainTokenizerSpec = {
  name: 'sr1-model train-tokenizer',
  summary: 'train a byte-level BPE tokenizer on corpus passages (and questions)',
  flags: {
    corpus: {
      type: 'string',
      multiple: true,
      placeholder: 'FILE.jsonl',
      description: 'corpus JSONL ({id, contents}); at least one',
    },
    questions: {
      type: 'string',
      multiple: true,
      placeholder: 'FILE.jsonl',
      description: 'question JSONL whose questions join the training texts',
    },
    'vocab-size': {
      type: 'integer',
      required: true,
      min: 259, // 256 bytes + the special tokens
      max: 65535, // ids stay 16-bit
      description: 'vocabulary size, special tokens included',
    },
    out: { type: 'string', required: true, placeholder: 'DIR', description: 'folder for tokenizer.json' },
  },
} as const satisfies CommandSpec;

const initSpec = {
  name: 'sr1-model init',
  summary: 'write a randomly initialised model folder from an HF config.json and a tokenizer',
  flags: {
    config: { type: 'string', required: true, placeholder: 'FILE', description: 'HF config.json' },
    tokenizer: { type: 'string', required: true, placeholder: 'DIR', description: 'tokenizer folder' },
    out: { type: 'string', required: true, placeholder: 'DIR', description: 'model folder to write' },
    force: { type: 'boolean', description: 'replace --out when it already holds files' },
    seed: {
      type: 'integer',
      default: 0, // fixed: same command, same model
      min: 0,
      max: 2 ** 32 - 1,
      description: 'initialisation seed',
    },
    'init-std': {
      type: 'number',
      default: INITIALIZER_RANGE, // HF's initializer_range
      min: 0,
      max: 10,
      placeholder: 'S',
      description: 'std of the normal init of the matrices',
    },
  },
  notes:
    'The model is written beside --out and renamed into place, so --out never holds a half-written model.',
} as const satisfies CommandSpec;

const generateSpec = {
  name: 'sr1-model generate',
  summary: 'continue a prompt',
  flags: {
    model: modelFlag,
    prompt: { type: 'string', required: true, placeholder: 'TEXT', description: 'the prompt' },
    'max-new-tokens': {
      type: 'integer',
      default: 64, // a few sentences
      min: 0,
      max: 1_000_000,
      description: 'most tokens generated',
    },
    temperature: {
      type: 'number',
      default: 1, // the model's own distribution
      min: 0,
      max: 100,
      placeholder: 'T',
      description: '0 = greedy',
    },
    'top-k': { type: 'integer', default: 0, min: 0, placeholder: 'K', description: '0 = off' }, // off
    'top-p': {
      type: 'number',
      default: 1, // off
      min: Number.MIN_VALUE,
      max: 1,
      placeholder: 'P',
      description: '1 = off',
    },
    seed: {
      type: 'integer',
      default: 0, // reproducible by default
      min: 0,
      max: 2 ** 32 - 1,
      description: 'sampling seed',
    },
    stop: { type: 'string', multiple: true, placeholder: 'STRING', description: 'stop string' },
    chat: { type: 'boolean', description: "wrap the prompt in the tokenizer's chat template" },
    json: { type: 'boolean', description: 'print the result as JSON' },
    ...engineFlags,
  },
} as const satisfies CommandSpec;

const scoreSpec = {
  name: 'sr1-model score',
  summary: 'log P(token | prefix) of a text or of token ids',
  flags: {
    model: modelFlag,
    text: { type: 'string', placeholder: 'TEXT', description: 'text to score (or --tokens)' },
    tokens: { type: 'string', placeholder: '1,2,3', description: 'token ids to score (or --text)' },
    json: { type: 'boolean', description: 'print the result as JSON' },
    ...engineFlags,
  },
} as const satisfies CommandSpec;

const exportGgufSpec = {
  name: 'sr1-model export-gguf',
  summary: 'write the model as a GGUF v3 file (F32) for llama.cpp',
  flags: {
    model: modelFlag,
    out: { type: 'string', required: true, placeholder: 'FILE', description: 'GGUF file to write' },
    name: { type: 'string', default: 'sr1', description: 'general.name in the GGUF metadata' },
  },
} as const satisfies CommandSpec;

const serveSpec = {
  name: 'sr1-model serve',
  summary: 'serve the model as an OpenAI-compatible /v1/completions endpoint',
  flags: {
    model: modelFlag,
    host: { type: 'string', default: '127.0.0.1', description: 'address to listen on' }, // local only unless asked
    port: { type: 'integer', default: 8000, min: 0, max: 65535, description: '0 = any free port' }, // vLLM's port
    'max-batch': {
      type: 'integer',
      default: 32, // keeps a CPU engine busy without long waits per batch
      min: 1,
      max: 4096,
      description: 'most sequences per engine call',
    },
    ...engineFlags,
  },
} as const satisfies CommandSpec;

async function trainTokenizer(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(trainTokenizerSpec, args);
  if (values.corpus.length === 0) throw new CliUsageError('--corpus', 'is required');
  await checkNotAFile(values.out); // before the training, not after it
  const texts = await readTokenizerTrainingTexts({
    corpusFiles: values.corpus,
    questionFiles: values.questions,
  });
  const trained = trainBpeTokenizer(texts, { vocabSize: values['vocab-size'] });
  await saveTrainedTokenizer(values.out, trained);
  io.stdout(
    `trained a byte-level BPE tokenizer: ${trained.vocab.size} tokens, ${trained.merges.length} merges, ${texts.length} texts → ${values.out}\n`,
  );
}

/** Refuses an --out folder that is a file; true when the folder exists. */
async function checkNotAFile(out: string): Promise<boolean> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(out);
  } catch {
    return false; // missing: nothing to lose
  }
  if (!info.isDirectory()) throw new CliUsageError('--out', `${out} is a file, expected a folder`);
  return true;
}

/** Refuses an --out that would lose data, before any work is done. */
async function checkOutFolder(out: string, force: boolean): Promise<void> {
  if (!(await checkNotAFile(out))) return;
  if (!force && (await readdir(out)).length > 0) {
    throw new CliUsageError('--out', `${out} already holds files; pass --force to replace it`);
  }
}

async function init(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(initSpec, args);
  const { config: configFile, tokenizer: tokenizerDir, out, seed } = values;
  await checkOutFolder(out, values.force);
  const tokenizer = await loadTokenizer(tokenizerDir);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(configFile, 'utf8'));
  } catch (error) {
    throw new CliUsageError('--config', `cannot read JSON from ${configFile}: ${(error as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ModelConfigError(configFile, '(root)', 'expected a JSON object');
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
  checkDecoderFitsMemory(config, configFile, undefined, 'free'); // initWeights allocates them next
  const weights = initWeights(config, createRng(seed), values['init-std']);
  await saveModelFolderAtomically(out, { config, weights }, { tokenizerDir, overwrite: values.force });
  io.stdout(
    `initialised a ${config.modelType} model with ${countParameters(weights)} parameters (seed ${seed}) → ${out}\n`,
  );
}

async function openModel(values: { model: string; engine: string; device: string }) {
  const modelDir = values.model;
  const model = await loadModelFolder(modelDir);
  const tokenizer = await loadTokenizer(modelDir);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new TokenizerError(
      join(modelDir, 'tokenizer.json'),
      `has ${tokenizer.vocabSize} ids but the model's vocab_size is ${model.config.vocabSize}`,
    );
  }
  const runner = await createRunner(model, {
    engine: values.engine as EngineName,
    device: values.device as 'cpu' | 'cuda',
  });
  return { model, tokenizer, runner };
}

async function generateCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(generateSpec, args);
  const { tokenizer, runner } = await openModel(values);
  try {
    const text = values.chat
      ? tokenizer.applyChatTemplate([{ role: 'user', content: values.prompt }], {
          addGenerationPrompt: true,
        })
      : values.prompt;
    const [result] = await generate(runner, tokenizer, [text], {
      maxNewTokens: values['max-new-tokens'],
      temperature: values.temperature,
      topK: values['top-k'],
      topP: values['top-p'],
      seed: values.seed,
      stop: values.stop,
    });
    if (values.json) io.stdout(`${JSON.stringify(result)}\n`);
    else io.stdout(`${result!.text}\n[${result!.finishReason}, ${result!.tokenIds.length} tokens]\n`);
  } finally {
    await runner.dispose();
  }
}

/** Parses `--tokens 1,2,3`. */
export function parseTokenList(value: string, flag: string): number[] {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 0 || parts.some((part) => !/^\d+$/.test(part))) {
    throw new CliUsageError(flag, `expected comma-separated token ids, got '${value}'`);
  }
  return parts.map(Number);
}

async function scoreCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(scoreSpec, args);
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
}

async function exportGgufCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(exportGgufSpec, args);
  const model = await loadModelFolder(values.model);
  const written = await exportGguf(values.out, model, values.model, values.name);
  io.stdout(
    `wrote GGUF v3 (${model.config.modelType}, F32): ${written.tensors} tensors, ${written.metadata} metadata keys → ${values.out}\n`,
  );
}

async function serveCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(serveSpec, args);
  const server = await serveModel({
    model: values.model,
    host: values.host,
    port: values.port,
    maxBatchSize: values['max-batch'],
    engine: values.engine as EngineName,
    device: values.device as 'cpu' | 'cuda',
  });
  io.stdout(`serving ${server.modelId} at ${server.url}/v1/completions (Ctrl-C stops)\n`);
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
}

/** The `sr1-model` program: its subcommands, as `@sr1/core`'s `runCli` dispatches them. */
export const program: CliProgram = {
  name: 'sr1-model',
  summary: 'tokenizers, random models, generation, scoring, GGUF export and an OpenAI-compatible server',
  commands: {
    'train-tokenizer': { summary: trainTokenizerSpec.summary, run: trainTokenizer },
    init: { summary: initSpec.summary, run: init },
    generate: { summary: generateSpec.summary, run: generateCommand },
    score: { summary: scoreSpec.summary, run: scoreCommand },
    'export-gguf': { summary: exportGgufSpec.summary, run: exportGgufCommand },
    serve: { summary: serveSpec.summary, run: serveCommand },
  },
};

/** Runs one `sr1-model` command; returns the exit code (errors are printed as one line, not thrown). */
export function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  return runProgram(program, argv, io);
}

/** Runs `sr1-model` as the process (what the bin calls). */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  await runProcess(program, argv);
}

if (isMainModule(import.meta.url)) void main();
