// A run folder's history (metrics.jsonl, checkpoints/) is never destroyed by accident: a new run
// into a folder that holds one refuses unless it resumes it or is told to start over.

import { existsSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import type { WeightMap } from '@sr1/model';

/** A new run was asked for in a folder that holds an earlier run (code `run_exists`). */
export class RunExistsError extends InvalidInputError {
  constructor(runDir: string, found: readonly string[]) {
    super({
      code: 'run_exists',
      file: runDir,
      reason: `holds an earlier run (${found.join(', ')}); pass --resume to continue it, or --force to start over (deletes its metrics and checkpoints), or choose another output folder`,
    });
  }
}

/** What `runDir` holds of an earlier run: a non-empty metrics.jsonl, a non-empty checkpoints/. */
export function runHistory(runDir: string): string[] {
  const found: string[] = [];
  const metrics = join(runDir, 'metrics.jsonl');
  if (existsSync(metrics) && statSync(metrics).size > 0) found.push('metrics.jsonl');
  const checkpoints = join(runDir, 'checkpoints');
  if (existsSync(checkpoints) && readdirSync(checkpoints).length > 0) found.push('checkpoints/');
  return found;
}

/**
 * Checks how a run may start in `runDir`: resuming is always allowed; a new run needs a folder
 * without history, or `force`. Throws `RunExistsError`; touches nothing.
 */
export function checkRunDir(runDir: string, options: { resume: boolean; force?: boolean }): void {
  if (options.resume || options.force === true) return;
  const found = runHistory(runDir);
  if (found.length > 0) throw new RunExistsError(runDir, found);
}

/** Deletes an earlier run's metrics.jsonl and checkpoints/ (what `--force` asks for). */
export async function clearRunHistory(runDir: string): Promise<void> {
  await rm(join(runDir, 'metrics.jsonl'), { force: true });
  await rm(join(runDir, 'checkpoints'), { recursive: true, force: true });
}

/**
 * `loaded` (a checkpoint's weights) in the key order of `reference` (the run's fresh weights),
 * after checking both hold the same tensors with the same shapes. The order matters for bit-exact
 * resume: gradients follow the parameters' order, and so does the summation of the gradient
 * norm — a checkpoint's safetensors file stores names sorted, a random init in layer order.
 */
export function inReferenceOrder(loaded: WeightMap, reference: WeightMap, file: string): WeightMap {
  const ordered: WeightMap = new Map();
  for (const [name, tensor] of reference) {
    const found = loaded.get(name);
    if (found === undefined) {
      throw new InvalidInputError({ code: 'checkpoint', file, field: name, reason: 'tensor is missing' });
    }
    if (found.shape.join(',') !== tensor.shape.join(',')) {
      throw new InvalidInputError({
        code: 'checkpoint',
        file,
        field: name,
        reason: `expected shape [${tensor.shape.join(', ')}], got [${found.shape.join(', ')}]`,
      });
    }
    ordered.set(name, found);
  }
  for (const name of loaded.keys()) {
    if (!reference.has(name)) {
      throw new InvalidInputError({ code: 'checkpoint', file, field: name, reason: 'unexpected tensor' });
    }
  }
  return ordered;
}
