// Loads and saves HF-style model folders: config.json (+ generation_config.json), weights as one
// `model.safetensors` or shards listed in `model.safetensors.index.json`, and the tokenizer files.

import { copyFile, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { DecoderConfig, WeightDtype, WeightMap } from '../engine-types.js';
import { MissingFileError, ModelFolderExistsError, SafetensorsFormatError } from '../errors.js';
import { checkDecoderFitsMemory, decoderConfigToHfJson, loadDecoderConfig, readJsonFile } from './config.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { validateWeights } from './weights.js';

/** A decoder read from disk: its normalised config and validated float32 weights. */
export interface LoadedModel {
  dir: string;
  config: DecoderConfig;
  weights: WeightMap;
}

/** Tokenizer files copied along with a model (those that exist are copied). */
export const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
] as const;

/** Reads config and weights of an HF model folder, checking every tensor against the config. */
export async function loadModelFolder(dir: string): Promise<LoadedModel> {
  const config = await loadDecoderConfig(dir);
  // the weights are read next: they must fit in the memory free now, not only in the machine's
  checkDecoderFitsMemory(config, join(dir, 'config.json'), undefined, 'free');
  const weights = await loadWeights(dir, config);
  return { dir, config, weights };
}

/**
 * Reads `model.safetensors`, or every shard named by `model.safetensors.index.json`, into float32,
 * and validates names and shapes against the config (errors name the shard and the tensor).
 */
export async function loadWeights(dir: string, config: DecoderConfig): Promise<WeightMap> {
  const single = join(dir, 'model.safetensors');
  const indexFile = join(dir, 'model.safetensors.index.json');
  const fileOfTensor = new Map<string, string>();
  const weights: WeightMap = new Map();
  if (await exists(single)) {
    const { tensors } = await readSafetensors(single);
    for (const [name, tensor] of tensors) {
      weights.set(name, tensor);
      fileOfTensor.set(name, single);
    }
  } else if (await exists(indexFile)) {
    const index = await readJsonFile(indexFile);
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new SafetensorsFormatError(
        indexFile,
        'expected a `weight_map` object of tensor name → shard file',
      );
    }
    const byShard = new Map<string, Set<string>>();
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
        throw new SafetensorsFormatError(
          indexFile,
          `shard must be a file name in the folder, got ${JSON.stringify(shard)}`,
          name,
        );
      }
      if (!byShard.has(shard)) byShard.set(shard, new Set());
      byShard.get(shard)!.add(name);
    }
    for (const [shard, names] of byShard) {
      const shardFile = join(dir, shard);
      const { tensors, header } = await readSafetensors(shardFile, { names });
      for (const name of names) {
        if (!tensors.has(name)) {
          throw new SafetensorsFormatError(shardFile, 'listed in the index but not in the shard', name);
        }
      }
      for (const entry of header.entries) {
        if (!names.has(entry.name)) {
          throw new SafetensorsFormatError(shardFile, 'in the shard but not listed in the index', entry.name);
        }
      }
      for (const [name, tensor] of tensors) {
        weights.set(name, tensor);
        fileOfTensor.set(name, shardFile);
      }
    }
  } else {
    throw new MissingFileError(single, 'no model.safetensors or model.safetensors.index.json in the folder');
  }
  return validateWeights(weights, config, (name) => fileOfTensor.get(name) ?? single);
}

export interface SaveModelOptions {
  /** Folder whose tokenizer files (TOKENIZER_FILES) are copied next to the weights. */
  tokenizerDir?: string;
  /** On-disk dtype of the weights (default float32, what sr1 computes in). */
  dtype?: WeightDtype;
}

/** Writes config.json, generation_config.json, model.safetensors and the tokenizer files. */
export async function saveModelFolder(
  dir: string,
  model: { config: DecoderConfig; weights: WeightMap },
  options: SaveModelOptions = {},
): Promise<void> {
  validateWeights(model.weights, model.config);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'config.json'),
    `${JSON.stringify(decoderConfigToHfJson(model.config), null, 2)}\n`,
  );
  const generation: Record<string, unknown> = {
    bos_token_id: model.config.bosTokenId,
    eos_token_id:
      model.config.eosTokenIds.length === 1 ? model.config.eosTokenIds[0] : model.config.eosTokenIds,
  };
  await writeFile(join(dir, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
  await writeSafetensors(join(dir, 'model.safetensors'), model.weights, {
    dtype: options.dtype ?? 'float32',
    metadata: { format: 'pt' },
  });
  if (options.tokenizerDir !== undefined) {
    const present = new Set(await readdir(options.tokenizerDir).catch(() => [] as string[]));
    if (!present.has('tokenizer.json')) {
      throw new MissingFileError(
        join(options.tokenizerDir, 'tokenizer.json'),
        'the tokenizer folder has no tokenizer.json',
      );
    }
    for (const name of TOKENIZER_FILES) {
      if (present.has(name)) await copyFile(join(options.tokenizerDir, name), join(dir, name));
    }
  }
}

export interface SaveModelFolderAtomicallyOptions extends SaveModelOptions {
  /** Replace a folder that already holds files (default false: refuse with ModelFolderExistsError). */
  overwrite?: boolean;
}

/**
 * Writes a model folder so that `dir` only ever holds a complete model: everything goes into a
 * temporary folder beside it, which is then renamed into place. An existing non-empty `dir` is
 * refused unless `overwrite`; then the old folder is moved aside and removed only once the new
 * one is in place (a crash in between leaves it as `<dir>.old-*`, never half-written).
 */
export async function saveModelFolderAtomically(
  dir: string,
  model: { config: DecoderConfig; weights: WeightMap },
  options: SaveModelFolderAtomicallyOptions = {},
): Promise<void> {
  const { overwrite = false, ...saveOptions } = options;
  const existing = await folderState(dir);
  if (existing === 'not-a-folder') throw new ModelFolderExistsError(dir, 'exists and is not a folder');
  if (existing === 'non-empty' && !overwrite) {
    throw new ModelFolderExistsError(dir, 'already exists and is not empty; refusing to overwrite it');
  }
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(join(parent, `.${basename(dir)}.tmp-`));
  try {
    await saveModelFolder(staging, model, saveOptions);
    if (existing === 'missing') {
      await rename(staging, dir); // fails rather than overwrite if a folder with files appeared meanwhile
      return;
    }
    const aside = await mkdtemp(join(parent, `.${basename(dir)}.old-`));
    await rename(dir, join(aside, 'model'));
    await rename(staging, dir);
    await rm(aside, { recursive: true, force: true });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function folderState(dir: string): Promise<'missing' | 'empty' | 'non-empty' | 'not-a-folder'> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (!info.isDirectory()) return 'not-a-folder';
  return (await readdir(dir)).length === 0 ? 'empty' : 'non-empty';
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
