// AdamW state ↔ safetensors, the one mapping every checkpoint uses (the SFT and RL actors'
// optimizer.safetensors, the PPO critic's critic-optimizer.safetensors): torch's names
// `exp_avg.<param>` and `exp_avg_sq.<param>`, the step count in the header's metadata.

import { InvalidInputError } from '@sr1/core';
import { readSafetensors, writeSafetensors } from '@sr1/model';
import type { AdamWState } from '@sr1/optim';

const FIRST = 'exp_avg.';
const SECOND = 'exp_avg_sq.';

/** Writes `state`'s two moments and step to `file` (one float32 tensor per moment and parameter). */
export async function writeOptimizerState(file: string, state: AdamWState): Promise<void> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [key, m] of state.firstMoment) tensors.set(`${FIRST}${key}`, { shape: [m.length], data: m });
  for (const [key, v] of state.secondMoment) tensors.set(`${SECOND}${key}`, { shape: [v.length], data: v });
  await writeSafetensors(file, tensors, { metadata: { step: String(state.step) } });
}

/**
 * Reads what `writeOptimizerState` wrote. A header without an integer step is an
 * InvalidInputError (code `checkpoint`) naming the file and `__metadata__.step`.
 */
export async function readOptimizerState(file: string): Promise<AdamWState> {
  const { tensors, header } = await readSafetensors(file);
  const firstMoment = new Map<string, Float32Array>();
  const secondMoment = new Map<string, Float32Array>();
  for (const [key, tensor] of tensors) {
    if (key.startsWith(SECOND)) secondMoment.set(key.slice(SECOND.length), tensor.data);
    else if (key.startsWith(FIRST)) firstMoment.set(key.slice(FIRST.length), tensor.data);
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
  return { step, firstMoment, secondMoment };
}
