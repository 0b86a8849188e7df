// Checks sr1's training step against PyTorch: one plain SGD step and one AdamW step on a random
// tiny Qwen2 model (masked token-mean cross-entropy over a right-padded batch) must give the same
// updated weights as torch autograd + torch.optim, within 1e-5 relative to the size of the update.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import {
  type DecoderConfig,
  initWeights,
  OrtTrainablePolicy,
  readSafetensors,
  saveModelFolder,
} from '@sr1/model';
import { tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { AdamW, sgdStep } from '@sr1/optim';
import { runTorchPeer } from './peers.js';

/** The tiny test decoder with a small vocabulary, an untied lm_head and q/k/v biases. */
export const CHECK_CONFIG: DecoderConfig = {
  ...tinyQwen2ForSmallTokenizer(),
  vocabSize: 96,
  tieWordEmbeddings: false,
  maxPositionEmbeddings: 128,
  eosTokenIds: [0],
};

/**
 * Parameters whose exact gradient is zero: a key bias adds the same q·b to every score of a query,
 * which softmax ignores. Their float32 gradients are pure rounding noise, and Adam's first step
 * normalises any noise above ε to ±lr in both implementations, so they are compared in SGD only.
 */
export const ZERO_GRADIENT = /\.k_proj\.bias$/;

export interface StepCheckResult {
  perTensor: Record<string, number>;
  optimizer: 'sgd' | 'adamw';
  /** max over tensors of max|w_sr1 − w_torch| / max|w_torch|: the criterion (≤ 1e-5). */
  maxRelativeWeightError: number;
  /** Stricter: max over tensors of max|Δsr1 − Δtorch| / max|Δtorch| (Δ = the step's update). */
  maxRelativeUpdateError: number;
  worstTensor: string;
  torchLoss: number;
  torchVersion: string;
}

/** A right-padded batch with a loss mask on the second half of each row. */
export function checkBatch(config: DecoderConfig, seed: number, rows = 3, length = 20) {
  const rng = createRng(seed);
  const tokens: number[][] = [];
  const attention: number[][] = [];
  const loss: number[][] = [];
  for (let b = 0; b < rows; b++) {
    const real = length - 3 * b; // rows get shorter: right padding
    tokens.push(Array.from({ length }, (_, t) => (t < real ? 1 + rng.int(config.vocabSize - 1) : 0)));
    attention.push(Array.from({ length }, (_, t) => (t < real ? 1 : 0)));
    loss.push(Array.from({ length }, (_, t) => (t < real && t >= length / 2 - b ? 1 : 0)));
  }
  return { tokens, attention_mask: attention, loss_mask: loss };
}

/**
 * A `checkBatch` as the engine takes it: the token batch, and the upstream gradient of the loss
 * (the mean negative log-prob over the loss-masked tokens; a row's first token has no log-prob).
 */
export function checkEngineBatch(batch: ReturnType<typeof checkBatch>) {
  const B = batch.tokens.length;
  const T = batch.tokens[0]!.length;
  const tokenBatch = {
    tokens: Int32Array.from(batch.tokens.flat()),
    attentionMask: Uint8Array.from(batch.attention_mask.flat()),
    batchSize: B,
    length: T,
  };
  const count = batch.loss_mask.flat().filter((m, i) => m === 1 && i % T !== 0).length;
  const upstream = Float32Array.from(batch.loss_mask.flat(), (m, i) =>
    m === 1 && i % T !== 0 ? -1 / count : 0,
  );
  return { tokenBatch, upstream };
}

export async function checkTrainStep(optimizer: 'sgd' | 'adamw', seed = 1): Promise<StepCheckResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sr1-step-check-'));
  const weights = initWeights(CHECK_CONFIG, createRng(seed));
  await saveModelFolder(dir, { config: CHECK_CONFIG, weights });
  const batch = checkBatch(CHECK_CONFIG, seed);
  const batchFile = join(dir, 'batch.json');
  await writeFile(batchFile, JSON.stringify(batch));
  const lr = optimizer === 'sgd' ? 0.1 : 1e-3;
  const weightDecay = optimizer === 'adamw' ? 0.01 : 0;
  const out = join(dir, 'torch-updated.safetensors');
  const peer = await runTorchPeer('torch_train_step.py', [
    '--model',
    dir,
    '--batch',
    batchFile,
    '--optimizer',
    optimizer,
    '--lr',
    String(lr),
    '--weight-decay',
    String(weightDecay),
    '--out',
    out,
  ]);

  const before = new Map([...weights].map(([name, t]) => [name, t.data.slice()]));
  const policy = await OrtTrainablePolicy.create(CHECK_CONFIG, weights, { threads: 1 });
  const { tokenBatch, upstream } = checkEngineBatch(batch);
  const grads = await policy.backward(tokenBatch, { logprobs: upstream });
  if (optimizer === 'sgd') sgdStep(policy.parameters, grads, lr);
  else new AdamW({ lr, weightDecay }).step(policy.parameters, grads, lr);
  await policy.dispose();

  const { tensors: torchWeights } = await readSafetensors(out);
  let maxRelativeUpdateError = 0;
  let maxRelativeWeightError = 0;
  let worstTensor = '';
  const perTensor: Record<string, number> = {};
  for (const [name, updated] of policy.parameters) {
    if (optimizer === 'adamw' && ZERO_GRADIENT.test(name)) continue;
    const original = before.get(name)!;
    const reference = torchWeights.get(name)!.data;
    let maxDiff = 0;
    let maxUpdate = 0;
    let maxWeightDiff = 0;
    let maxWeight = 0;
    for (let i = 0; i < updated.length; i++) {
      const ours = updated[i]! - original[i]!;
      const theirs = reference[i]! - original[i]!;
      maxDiff = Math.max(maxDiff, Math.abs(ours - theirs));
      maxUpdate = Math.max(maxUpdate, Math.abs(theirs));
      maxWeightDiff = Math.max(maxWeightDiff, Math.abs(updated[i]! - reference[i]!));
      maxWeight = Math.max(maxWeight, Math.abs(reference[i]!));
    }
    perTensor[name] = maxWeight === 0 ? maxWeightDiff : maxWeightDiff / maxWeight;
    maxRelativeWeightError = Math.max(maxRelativeWeightError, perTensor[name]!);
    const relative = maxUpdate === 0 ? maxDiff : maxDiff / maxUpdate;
    if (relative > maxRelativeUpdateError) {
      maxRelativeUpdateError = relative;
      worstTensor = name;
    }
  }
  return {
    optimizer,
    perTensor,
    maxRelativeWeightError,
    maxRelativeUpdateError,
    worstTensor,
    torchLoss: Number(peer.loss),
    torchVersion: String(peer.torch),
  };
}
