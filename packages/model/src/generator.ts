// Adapts `generate` to the batched Generator interface the rollout declares (token-id prompts,
// stop strings, temperature/top-p, streaming deltas), structurally: @sr1/model never imports
// @sr1/rollout, and the rollout never imports the engine.

import type { DecoderRunner } from './engine-types.js';
import { type FinishReason, generate } from './generate.js';
import type { Tokenizer } from './tokenizer.js';

/** A batch to generate, as `@sr1/rollout`'s `GenerationRequest` has it. */
export interface RunnerGenerationRequest {
  prompts: readonly (readonly number[])[];
  /** Stable per trajectory; unused here (no prefix cache across calls). */
  keys?: readonly string[];
  maxNewTokens: number;
  stop: readonly string[];
  temperature: number;
  topP: number;
  topK?: number;
  seed?: number;
  onDelta?: (sequence: number, delta: { text: string; tokenIds: readonly number[] }) => void;
  signal?: AbortSignal;
}

/** One sequence's result, as `@sr1/rollout`'s `GenerationResult` has it. */
export interface RunnerGenerationResult {
  /** Sampled ids, including the token that completed a stop string or the EOS id. */
  tokenIds: number[];
  /** decode(tokenIds), special tokens included (so an EOS shows as its token text). */
  text: string;
  /** log π(token) under softmax(logits / temperature), before top-k/top-p truncation. */
  logProbs: number[];
  finishReason: FinishReason;
  /** Always true: the ids are the sampled ids. */
  tokenExact: true;
}

/** A Generator over a DecoderRunner (the local engine) for the agent loop. */
export class RunnerGenerator {
  constructor(
    readonly runner: DecoderRunner,
    readonly tokenizer: Tokenizer,
  ) {}

  async generate(request: RunnerGenerationRequest): Promise<RunnerGenerationResult[]> {
    const onDelta = request.onDelta;
    const emitted = request.prompts.map(() => ({ tokens: [] as number[], text: '' }));
    const results = await generate(this.runner, this.tokenizer, request.prompts, {
      maxNewTokens: request.maxNewTokens,
      temperature: request.temperature,
      topP: request.topP,
      topK: request.topK ?? 0,
      stop: request.stop,
      seed: request.seed ?? 0,
      ...(request.signal !== undefined ? { signal: request.signal } : {}),
      ...(onDelta !== undefined
        ? {
            onToken: (sequence: number, tokenId: number) => {
              // Deltas are differences of whole decodes, so multi-byte characters split across
              // tokens arrive whole once complete.
              const state = emitted[sequence]!;
              state.tokens.push(tokenId);
              const text = this.tokenizer.decode(state.tokens);
              const delta = text.startsWith(state.text) ? text.slice(state.text.length) : text;
              state.text = text;
              onDelta(sequence, { text: delta, tokenIds: [tokenId] });
            },
          }
        : {}),
    });
    return results.map((result) => ({
      tokenIds: result.tokenIds,
      text: this.tokenizer.decode(result.tokenIds),
      logProbs: result.logprobs,
      finishReason: result.finishReason,
      tokenExact: true,
    }));
  }
}
