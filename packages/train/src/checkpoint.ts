// Atomic checkpoints: each is written into a temporary folder and renamed into place, and
// `latest.json` is replaced by rename too, so a run killed at any instant (even `kill -9`) leaves
// either the previous complete checkpoint or the new one — never a half-written folder.

import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import { readSafetensors, writeSafetensors } from '@sr1/model';
import type { AdamWState } from '@sr1/optim';

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
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [key, m] of contents.optimizer.firstMoment)
      tensors.set(`exp_avg.${key}`, { shape: [m.length], data: m });
    for (const [key, v] of contents.optimizer.secondMoment)
      tensors.set(`exp_avg_sq.${key}`, { shape: [v.length], data: v });
    await writeSafetensors(join(temporary, 'optimizer.safetensors'), tensors, {
      metadata: { step: String(contents.optimizer.step) },
    });
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

/** The checkpoint `latest.json` points at, or null when the run has none yet. */
export async function loadLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint | null> {
  const root = join(runDir, 'checkpoints');
  const latestFile = join(root, 'latest.json');
  let latest: { step?: unknown; dir?: unknown };
  try {
    latest = JSON.parse(await readFile(latestFile, 'utf8')) as typeof latest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InvalidInputError({
      code: 'checkpoint',
      file: latestFile,
      reason: `unreadable (${(error as Error).message})`,
    });
  }
  if (typeof latest.dir !== 'string' || typeof latest.step !== 'number') {
    throw new InvalidInputError({
      code: 'checkpoint',
      file: latestFile,
      reason: 'expected {"step": number, "dir": string}',
    });
  }
  const dir = join(root, latest.dir);
  const stateFile = join(dir, 'trainer-state.json');
  const saved = JSON.parse(await readFile(stateFile, 'utf8')) as {
    step: number;
    hasOptimizer: boolean;
    state: unknown;
  };
  let optimizer: AdamWState | null = null;
  if (saved.hasOptimizer) {
    const file = join(dir, 'optimizer.safetensors');
    const { tensors, header } = await readSafetensors(file);
    const firstMoment = new Map<string, Float32Array>();
    const secondMoment = new Map<string, Float32Array>();
    for (const [key, tensor] of tensors) {
      if (key.startsWith('exp_avg_sq.')) secondMoment.set(key.slice('exp_avg_sq.'.length), tensor.data);
      else if (key.startsWith('exp_avg.')) firstMoment.set(key.slice('exp_avg.'.length), tensor.data);
    }
    const step = Number(header.metadata.step);
    if (!Number.isInteger(step)) {
      throw new InvalidInputError({
        code: 'checkpoint',
        file,
        field: '__metadata__.step',
        reason: 'missing optimiser step',
      });
    }
    optimizer = { step, firstMoment, secondMoment };
  }
  return { dir, step: saved.step, trainerState: saved.state, optimizer };
}
