// Batched autoregressive generation over a DecoderRunner: left-padded prompts, a KV cache that
// sheds rows as sequences finish, seeded sampling, stop strings matched on the decoded text, EOS.

import { createRng, InvalidInputError, type Rng, Sr1Error } from '@sr1/core';
import type { DecoderRunner, ForwardInputs, KvCache } from '../engine-types.js';
import type { ModelTokenizer as Tokenizer } from '../tokenizer/tokenizer.js';
import { type SamplingOptions, sampleToken, samplingParams } from './sampling.js';

/** A prompt as text (encoded without special tokens; apply a chat template first) or token ids. */
export type GeneratePrompt = string | readonly number[];

/** Sampling (temperature, topK, topP) as `SamplingOptions`; stopping and streaming per sequence. */
export interface GenerateOptions extends SamplingOptions {
  /** Most tokens generated per sequence. */
  maxNewTokens: number;
  /** Generation stops when the decoded completion contains one of these (kept in the output). */
  stop?: readonly string[];
  /** Ids that end a sequence (kept as its last token). Default: the tokenizer's and config's eos ids. */
  eosTokenIds?: readonly number[];
  /** Randomness for sampling; default createRng(seed ?? 0). Rows draw from it in batch order. */
  rng?: Rng;
  seed?: number;
  /** Called after every sampled token; `sequence` indexes `prompts`. */
  onToken?: (sequence: number, tokenId: number) => void;
  /** Checked before every forward call; an aborted signal rejects with GenerationAbortedError. */
  signal?: AbortSignal;
  /**
   * Per-prompt signals, checked before every decode step: an aborted row stops where it is
   * (finishReason 'length') and leaves the batch, so it costs no more compute; the others go on.
   */
  sequenceSignals?: readonly (AbortSignal | undefined)[];
}

/** Generation was cancelled through `GenerateOptions.signal`. */
export class GenerationAbortedError extends Sr1Error {
  constructor() {
    super('generation_aborted', 'generation was aborted');
  }
}

/** Why a sequence ended. */
export type FinishReason = 'stop' | 'eos' | 'length';

export interface GeneratedSequence {
  /** The prompt as ids (what the model was conditioned on, without padding). */
  promptTokenIds: number[];
  /** Generated ids; the token that completed a stop string, or the EOS id, is the last one. */
  tokenIds: number[];
  /**
   * decode(tokenIds) without a final EOS token. When a stop string ends inside the last token,
   * the text runs to the end of that token (so text and tokenIds always agree).
   */
  text: string;
  /**
   * Per generated token, log π(token | prefix) under softmax(logits / temperature), before top-k
   * and top-p truncation (veRL's old-policy log-prob at the rollout temperature); greedy: temperature 1.
   */
  logprobs: number[];
  finishReason: FinishReason;
  /** The stop string that ended the sequence, when finishReason is 'stop'. */
  stopString?: string;
}

interface Row {
  prompt: number[];
  tokens: number[];
  logprobs: number[];
  finish?: FinishReason;
  stopString?: string;
}

/**
 * Generates continuations of a batch of prompts. Prompts are left-padded to a common length; each
 * step feeds one new token per unfinished row, and rows that finish are dropped from the cache
 * (`runner.selectRows`), so they stop costing compute.
 */
export async function generate(
  runner: DecoderRunner,
  tokenizer: Tokenizer,
  prompts: readonly GeneratePrompt[],
  options: GenerateOptions,
): Promise<GeneratedSequence[]> {
  const params = samplingParams(options, 'generate');
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) {
    throw new InvalidInputError({ field: 'generate.maxNewTokens', reason: 'must be an integer ≥ 0' });
  }
  const stops = (options.stop ?? []).filter((stop) => stop.length > 0);
  const eos = new Set(options.eosTokenIds ?? [...tokenizer.eosTokenIds, ...runner.config.eosTokenIds]);
  const rng = options.rng ?? createRng(options.seed ?? 0); // reproducible by default; pass a seed per call
  const vocab = runner.config.vocabSize;
  const maxPositions = runner.config.maxPositionEmbeddings;

  const rows: Row[] = prompts.map((prompt, index) => {
    const ids = typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
    if (ids.length === 0) {
      throw new InvalidInputError({
        field: `prompts[${index}]`,
        reason: 'a prompt needs at least one token',
      });
    }
    ids.forEach((id, position) => {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidInputError({
          field: `prompts[${index}][${position}]`,
          reason: `token id ${id} is outside the vocabulary [0, ${vocab})`,
        });
      }
    });
    if (ids.length >= maxPositions) {
      throw new InvalidInputError({
        field: `prompts[${index}]`,
        reason: `prompt has ${ids.length} tokens; the model holds at most ${maxPositions} positions`,
      });
    }
    return { prompt: ids, tokens: [], logprobs: [] };
  });
  if (rows.length === 0 || options.maxNewTokens === 0)
    return rows.map((row) => finishRow(row, tokenizer, eos, 'length'));

  // Stop strings are looked for in the decoded tail: long enough to hold any stop string even if
  // some tokens decode to partial characters.
  const stopWindow = stops.length === 0 ? 0 : 4 * Math.max(...stops.map((stop) => stop.length)) + 4;
  const accept = (rowIndex: number, tokenId: number, logprob: number): void => {
    const row = rows[rowIndex]!;
    row.tokens.push(tokenId);
    row.logprobs.push(logprob);
    options.onToken?.(rowIndex, tokenId);
    if (eos.has(tokenId)) {
      row.finish = 'eos';
      return;
    }
    if (stops.length > 0) {
      const tail = tokenizer.decode(row.tokens.slice(-stopWindow));
      const hit = earliestStop(tail, stops);
      if (hit !== undefined) {
        row.finish = 'stop';
        row.stopString = hit;
        return;
      }
    }
    if (row.tokens.length >= options.maxNewTokens || row.prompt.length + row.tokens.length >= maxPositions) {
      row.finish = 'length';
    }
  };

  // Prefill: (batch, maxPrompt), left-padded; positions count real tokens before each.
  const batch = rows.length;
  const width = Math.max(...rows.map((row) => row.prompt.length));
  // padding is masked out, but the embedding still gathers it: keep it inside the vocabulary
  const padId = tokenizer.padTokenId < vocab ? tokenizer.padTokenId : 0;
  const inputIds = new BigInt64Array(batch * width).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * width);
  const positionIds = new BigInt64Array(batch * width);
  rows.forEach((row, b) => {
    const offset = width - row.prompt.length;
    row.prompt.forEach((id, j) => {
      inputIds[b * width + offset + j] = BigInt(id);
      attentionMask[b * width + offset + j] = 1n;
      positionIds[b * width + offset + j] = BigInt(j);
    });
  });
  const checkAborted = () => {
    if (options.signal?.aborted) throw new GenerationAbortedError();
  };
  checkAborted();
  const prefill = await runner.prefill(
    { inputIds, batchSize: batch, newLength: width, attentionMask, positionIds },
    { lastOnly: true },
  );
  let cache: KvCache = prefill.cache;
  let mask = attentionMask; // (active, cache.length)
  let maskWidth = width;
  let active = rows.map((_, index) => index); // cache row → rows index
  active.forEach((rowIndex, b) => {
    const { tokenId, logprob } = sampleToken(
      prefill.logits.subarray(b * vocab, (b + 1) * vocab),
      params,
      rng,
    );
    accept(rowIndex, tokenId, logprob);
  });

  while (true) {
    for (const rowIndex of active) {
      const row = rows[rowIndex]!;
      if (row.finish === undefined && options.sequenceSignals?.[rowIndex]?.aborted) row.finish = 'length';
    }
    const keep = active
      .map((rowIndex, b) => [rowIndex, b] as const)
      .filter(([rowIndex]) => rows[rowIndex]!.finish === undefined);
    if (keep.length === 0) break;
    if (keep.length < active.length) {
      cache = runner.selectRows(
        cache,
        keep.map(([, b]) => b),
      );
      const narrowed = new BigInt64Array(keep.length * maskWidth);
      keep.forEach(([, b], k) => {
        narrowed.set(mask.subarray(b * maskWidth, (b + 1) * maskWidth), k * maskWidth);
      });
      mask = narrowed;
      active = keep.map(([rowIndex]) => rowIndex);
    }
    // Decode one step: (active, 1) new tokens; mask grows by one real column.
    const stepBatch = active.length;
    const stepIds = new BigInt64Array(stepBatch);
    const stepPositions = new BigInt64Array(stepBatch);
    const grown = new BigInt64Array(stepBatch * (maskWidth + 1));
    active.forEach((rowIndex, b) => {
      const row = rows[rowIndex]!;
      stepIds[b] = BigInt(row.tokens[row.tokens.length - 1]!);
      stepPositions[b] = BigInt(row.prompt.length + row.tokens.length - 1);
      grown.set(mask.subarray(b * maskWidth, (b + 1) * maskWidth), b * (maskWidth + 1));
      grown[b * (maskWidth + 1) + maskWidth] = 1n;
    });
    mask = grown;
    maskWidth += 1;
    const inputs: ForwardInputs = {
      inputIds: stepIds,
      batchSize: stepBatch,
      newLength: 1,
      attentionMask: mask,
      positionIds: stepPositions,
    };
    checkAborted();
    const step = await runner.decode(inputs, cache, { lastOnly: true });
    cache = step.cache;
    active.forEach((rowIndex, b) => {
      const { tokenId, logprob } = sampleToken(step.logits.subarray(b * vocab, (b + 1) * vocab), params, rng);
      accept(rowIndex, tokenId, logprob);
    });
  }
  return rows.map((row) => finishRow(row, tokenizer, eos, row.finish ?? 'length'));
}

/**
 * The stop string that occurs first in `text` (ties: the longer one, so the cut is the same),
 * whatever its place in `stops`; undefined when none occurs.
 */
export function earliestStop(text: string, stops: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestIndex = Number.POSITIVE_INFINITY;
  for (const stop of stops) {
    if (stop.length === 0) continue;
    const index = text.indexOf(stop);
    if (index < 0) continue;
    if (index < bestIndex || (index === bestIndex && stop.length > best!.length)) {
      best = stop;
      bestIndex = index;
    }
  }
  return best;
}

function finishRow(
  row: Row,
  tokenizer: Tokenizer,
  eos: ReadonlySet<number>,
  finishReason: FinishReason,
): GeneratedSequence {
  const visible =
    finishReason === 'eos' && row.tokens.length > 0 && eos.has(row.tokens[row.tokens.length - 1]!)
      ? row.tokens.slice(0, -1)
      : row.tokens;
  return {
    promptTokenIds: row.prompt,
    tokenIds: row.tokens,
    text: tokenizer.decode(visible),
    logprobs: row.logprobs,
    finishReason,
    ...(row.stopString !== undefined ? { stopString: row.stopString } : {}),
  };
}
