// Adapts a local engine's batched generate function to @sr1/spec's `Generator` interface; it lives
// beside the engine so rollout stays free of engine code. It is sr1's one engine→Generator
// adapter: the trainer, the evaluations and `sr1-model serve` all go through it. `@sr1/model`'s
// `generate(runner, tokenizer, prompts, options)` fits as is:
// `generatorFromEngine((prompts, options) => generate(runner, tokenizer, prompts, options), { tokenizer })`.

import { GeneratorContractError } from '@sr1/core';
import type {
  GenerationFinishReason,
  GenerationRequest,
  GenerationResult,
  Generator,
  Tokenizer,
} from '@sr1/spec';

/** The options a local engine's generate call takes (a subset of `@sr1/model`'s `GenerateOptions`). */
export interface EngineGenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  stop: readonly string[];
  /** Absent: the engine's default (`@sr1/model`: seed 0, so generation is reproducible). */
  seed?: number;
  /** Called after every sampled token; `sequence` indexes the prompts. Set only when streaming. */
  onToken?: (sequence: number, tokenId: number) => void;
  /** The request's signal; the engine checks it between forward calls and rejects once aborted. */
  signal?: AbortSignal;
  /** Per-sequence signals (indexed like the prompts): an aborted sequence stops and leaves the batch. */
  sequenceSignals?: readonly (AbortSignal | undefined)[];
}

/** One generated sequence as a local engine returns it (`@sr1/model`'s `GeneratedSequence`). */
export interface EngineSequence {
  tokenIds: number[];
  /** Becomes the result's `text` unchanged (`@sr1/model`: the decode without a final EOS). */
  text: string;
  /** Per generated token, log π(token | prefix) at the sampling temperature. */
  logprobs: number[];
  finishReason: GenerationFinishReason;
}

/** A local engine's batched generation over token-id prompts. */
export type EngineGenerateFn = (
  prompts: readonly (readonly number[])[],
  options: EngineGenerateOptions,
) => Promise<EngineSequence[]>;

export interface EngineGeneratorOptions {
  /**
   * Turns the engine's per-token callback into `request.onDelta` text deltas. Without it nothing
   * streams (no decoding per token) and a caller such as the rollout reports each turn whole.
   */
  tokenizer?: Pick<Tokenizer, 'decode'>;
}

/** A `Generator` over a local engine; the engine samples, so its output is token-exact. */
export function generatorFromEngine(
  generate: EngineGenerateFn,
  options: EngineGeneratorOptions = {},
): Generator {
  const { tokenizer } = options;
  return {
    async generate(request: GenerationRequest): Promise<GenerationResult[]> {
      request.signal?.throwIfAborted();
      const onDelta = request.onDelta;
      const onToken =
        onDelta !== undefined && tokenizer !== undefined
          ? streamDeltas(request.prompts.length, tokenizer, onDelta)
          : undefined;
      const sequences = await generate(request.prompts, {
        maxNewTokens: request.maxNewTokens,
        temperature: request.temperature,
        topP: request.topP,
        stop: request.stop,
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
        ...(onToken !== undefined ? { onToken } : {}),
        ...(request.signal !== undefined ? { signal: request.signal } : {}),
        ...(request.sequenceSignals !== undefined ? { sequenceSignals: request.sequenceSignals } : {}),
      });
      if (!Array.isArray(sequences) || sequences.length !== request.prompts.length) {
        throw new GeneratorContractError(
          `the engine returned ${sequences?.length} sequences for ${request.prompts.length} prompts`,
        );
      }
      return sequences.map((sequence) => ({
        tokenIds: sequence.tokenIds,
        text: sequence.text,
        logProbs: sequence.logprobs,
        finishReason: sequence.finishReason,
      }));
    },
  };
}

/** A per-token callback that reports, per sequence, the text each new token adds. */
function streamDeltas(
  sequences: number,
  tokenizer: Pick<Tokenizer, 'decode'>,
  onDelta: NonNullable<GenerationRequest['onDelta']>,
): (sequence: number, tokenId: number) => void {
  const emitted = Array.from({ length: sequences }, () => ({ tokens: [] as number[], text: '' }));
  return (sequence, tokenId) => {
    const state = emitted[sequence];
    if (state === undefined) {
      throw new GeneratorContractError(
        `the engine streamed a token for sequence ${sequence} of ${sequences}`,
      );
    }
    // Deltas are differences of whole decodes, so a multi-byte character split across tokens
    // arrives whole once complete.
    state.tokens.push(tokenId);
    const text = tokenizer.decode(state.tokens);
    const delta = text.startsWith(state.text) ? text.slice(state.text.length) : text;
    state.text = text;
    onDelta(sequence, { text: delta, tokenIds: [tokenId] });
  };
}
