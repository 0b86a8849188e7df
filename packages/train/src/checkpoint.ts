// Atomic checkpoints: each is written into a temporary folder and renamed into place, and
// `latest.json` is replaced by rename too, so a run killed at any instant (even `kill -9`) leaves
// either the previous complete checkpoint or the new one — never a half-written folder.

import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import type { AdamWState } from '@sr1/optim';
import { readOptimizerState, writeOptimizerState } from './optimizer-state.js';

export interface CheckpointContents {
  step: number;
  /** Any JSON-serialisable state of the loop (epoch, cursor, RNG state, …). */
  trainerState: unknown;
  optimizer: AdamWState | null;
  /** Writes the model (an HF folder: config, weights, tokenizer) into `dir`. */
  writeModel(dir: string): Promise<void>;
}

export interface LoadedCheckpoint {
  dir: string;
  step: number;
  trainerState: unknown;
  optimizer: AdamWState | null;
}

const checkpointError = (file: string, reason: string, field?: string): InvalidInputError =>
  new InvalidInputError({ code: 'checkpoint', file, ...(field !== undefined ? { field } : {}), reason });

/**
 * Reads `trainerState` of a loaded checkpoint as an object whose named fields are non-negative
 * integers; anything else is an InvalidInputError naming trainer-state.json and `state.<field>`.
 * Loops call it to validate their own state before they touch the run's files.
 */
export function checkpointStateFields<K extends string>(
  checkpoint: LoadedCheckpoint,
  fields: readonly K[],
): Record<K, number> & Record<string, unknown> {
  const file = join(checkpoint.dir, 'trainer-state.json');
  const state = checkpoint.trainerState;
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw checkpointError(file, `expected an object, got ${JSON.stringify(state)}`, 'state');
  }
  const record = state as Record<string, unknown>;
  for (const field of fields) {
    const value = record[field];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw checkpointError(file, `expected an integer ≥ 0, got ${JSON.stringify(value)}`, `state.${field}`);
    }
  }
  return record as Record<K, number> & Record<string, unknown>;
}

const stepName = (step: number): string => `step-${String(step).padStart(6, '0')}`;

/**
 * Saves a checkpoint under `runDir/checkpoints/step-NNNNNN` and points `latest.json` at it; keeps
 * the newest `keep` checkpoints. Returns the checkpoint folder.
 */
export async function saveCheckpoint(
  runDir: string,
  contents: CheckpointContents,
  keep = 2,
): Promise<string> {
  const root = join(runDir, 'checkpoints');
  await mkdir(root, { recursive: true });
  const name = stepName(contents.step);
  const final = join(root, name);
  const temporary = join(root, `${name}.tmp-${process.pid}`);
  await rm(temporary, { recursive: true, force: true });
  await mkdir(temporary, { recursive: true });
  await contents.writeModel(temporary);
  if (contents.optimizer !== null) {
    await writeOptimizerState(join(temporary, 'optimizer.safetensors'), contents.optimizer);
  }
  await writeFile(
    join(temporary, 'trainer-state.json'),
    `${JSON.stringify({ step: contents.step, hasOptimizer: contents.optimizer !== null, state: contents.trainerState })}\n`,
  );
  await rm(final, { recursive: true, force: true });
  await rename(temporary, final);
  const latestTemporary = join(root, `latest.json.tmp-${process.pid}`);
  await writeFile(latestTemporary, `${JSON.stringify({ step: contents.step, dir: name })}\n`);
  await rename(latestTemporary, join(root, 'latest.json'));
  // Prune older checkpoints and leftovers of runs killed mid-save.
  const entries = await readdir(root);
  const steps = entries.filter((entry) => /^step-\d{6}$/.test(entry)).sort();
  for (const old of steps.slice(0, Math.max(0, steps.length - keep))) {
    if (old !== name) await rm(join(root, old), { recursive: true, force: true });
  }
  for (const leftover of entries.filter(
    (entry) => entry.includes('.tmp-') && !entry.endsWith(`-${process.pid}`),
  )) {
    await rm(join(root, leftover), { recursive: true, force: true });
  }
  return final;
}

const STEP_FOLDER = /^step-(\d{6})$/;

/**
 * The checkpoint `latest.json` points at, or — when `latest.json` is missing (deleted, or a run
 * killed between its first checkpoint's rename and the pointer's) — the newest complete
 * `step-NNNNNN` folder; null when the run has none. Everything is validated before anything is
 * returned, so a caller can check the whole checkpoint before it touches the run's other files:
 * `latest.json` may only name a `step-NNNNNN` folder inside `checkpoints/` (never `../`), and a
 * corrupt `trainer-state.json` or optimiser file is an `InvalidInputError` (code `checkpoint`)
 * naming the file.
 */
export async function loadLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint | null> {
  const root = join(runDir, 'checkpoints');
  const latestFile = join(root, 'latest.json');
  let latest: { step?: unknown; dir?: unknown };
  try {
    latest = JSON.parse(await readFile(latestFile, 'utf8')) as typeof latest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return loadNewestComplete(root);
    throw checkpointError(latestFile, `unreadable (${(error as Error).message})`);
  }
  if (typeof latest !== 'object' || latest === null || typeof latest.step !== 'number') {
    throw checkpointError(latestFile, 'expected {"step": number, "dir": "step-NNNNNN"}');
  }
  if (typeof latest.dir !== 'string' || !STEP_FOLDER.test(latest.dir)) {
    throw checkpointError(
      latestFile,
      `expected a checkpoint folder name step-NNNNNN inside ${root}, got ${JSON.stringify(latest.dir)}`,
      'dir',
    );
  }
  const loaded = await loadCheckpointFolder(join(root, latest.dir));
  if (loaded.step !== latest.step) {
    throw checkpointError(
      latestFile,
      `says step ${latest.step}, but ${latest.dir}/trainer-state.json is step ${loaded.step}`,
      'step',
    );
  }
  return loaded;
}

/** The newest `step-NNNNNN` folder that holds a trainer-state.json (renamed into place last). */
async function loadNewestComplete(root: string): Promise<LoadedCheckpoint | null> {
  const entries = await readdir(root).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [] as string[];
    throw error;
  });
  const folders = entries
    .filter((entry) => STEP_FOLDER.test(entry))
    .sort()
    .reverse();
  for (const folder of folders) {
    const dir = join(root, folder);
    if (!existsSync(join(dir, 'trainer-state.json'))) continue; // not a complete checkpoint
    return loadCheckpointFolder(dir);
  }
  return null;
}

/** Reads and validates one checkpoint folder `step-NNNNNN`. */
async function loadCheckpointFolder(dir: string): Promise<LoadedCheckpoint> {
  const stateFile = join(dir, 'trainer-state.json');
  let saved: { step?: unknown; hasOptimizer?: unknown; state?: unknown };
  try {
    saved = JSON.parse(await readFile(stateFile, 'utf8')) as typeof saved;
  } catch (error) {
    throw checkpointError(stateFile, `unreadable (${(error as Error).message})`);
  }
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) {
    throw checkpointError(stateFile, 'expected {"step", "hasOptimizer", "state"}');
  }
  const folderStep = Number(STEP_FOLDER.exec(basename(dir))?.[1]);
  if (typeof saved.step !== 'number' || saved.step !== folderStep) {
    throw checkpointError(
      stateFile,
      `expected the folder's step ${folderStep}, got ${JSON.stringify(saved.step)}`,
      'step',
    );
  }
  if (typeof saved.hasOptimizer !== 'boolean') {
    throw checkpointError(
      stateFile,
      `expected true or false, got ${JSON.stringify(saved.hasOptimizer)}`,
      'hasOptimizer',
    );
  }
  if (!('state' in saved)) throw checkpointError(stateFile, 'is missing', 'state');
  const optimizer = saved.hasOptimizer ? await readOptimizerState(join(dir, 'optimizer.safetensors')) : null;
  return { dir, step: saved.step, trainerState: saved.state, optimizer };
}
