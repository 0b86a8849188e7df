// Adapts a local engine's batched generate function to the `Generator` interface, so rollout
// stays free of engine imports. `@sr1/model`'s `generate(runner, tokenizer, prompts, options)`
// fits as is: `generatorFromEngine((prompts, options) => generate(runner, tokenizer, prompts, options))`.

import { GeneratorContractError } from './errors.js';
import type { GenerationFinishReason, GenerationRequest, GenerationResult, Generator } from './types.js';

/** The options a local engine's generate call takes (a subset of `@sr1/model`'s `GenerateOptions`). */
export interface EngineGenerateOptions {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  stop: readonly string[];
  seed?: number;
}

/** One generated sequence as a local engine returns it (`@sr1/model`'s `GeneratedSequence`). */
export interface EngineSequence {
  tokenIds: number[];
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

/** A `Generator` over a local engine; the engine samples, so its output is token-exact. */
export function generatorFromEngine(generate: EngineGenerateFn): Generator {
  return {
    async generate(request: GenerationRequest): Promise<GenerationResult[]> {
      request.signal?.throwIfAborted();
      const sequences = await generate(request.prompts, {
        maxNewTokens: request.maxNewTokens,
        temperature: request.temperature,
        topP: request.topP,
        stop: request.stop,
        ...(request.seed !== undefined ? { seed: request.seed } : {}),
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
