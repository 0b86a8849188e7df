// A Generator wrapper for end-to-end tests with a random tiny model, which almost never writes a
// well-formed action by itself: chosen turns are forced to a given text (cut at a stop string or
// `maxNewTokens` as if sampled) and scored by the model, so the rollout sees real searches with
// the model's own log-probs; the other turns are sampled by the wrapped generator.

import type { GenerationRequest, GenerationResult, Generator, Tokenizer } from '../types.js';

export interface TeacherForcedGeneratorOptions {
  /** Samples the turns that are not forced. */
  inner: Generator;
  tokenizer: Tokenizer;
  /** The text to force for a trajectory's turn (0-based), or undefined to sample it. */
  force: (key: string, turn: number) => string | undefined;
  /**
   * log π(token) of each continuation token after its prompt, one list per pair (for example from
   * `@sr1/model`'s `scoreSequences` over prompt + continuation).
   */
  score: (
    prompts: readonly (readonly number[])[],
    continuations: readonly (readonly number[])[],
  ) => Promise<number[][]>;
}

/** Forces chosen turns (scored by the model), samples the rest; counts turns per key like the loop. */
export class TeacherForcedGenerator implements Generator {
  private readonly turnOf = new Map<string, number>();

  constructor(private readonly options: TeacherForcedGeneratorOptions) {}

  async generate(request: GenerationRequest): Promise<GenerationResult[]> {
    const { tokenizer, inner, force, score } = this.options;
    const forced: { sequence: number; tokenIds: number[]; finishReason: GenerationResult['finishReason'] }[] =
      [];
    const sampled: number[] = [];
    request.keys.forEach((key, sequence) => {
      const turn = this.turnOf.get(key) ?? 0;
      this.turnOf.set(key, turn + 1);
      const text = force(key, turn);
      if (text === undefined) {
        sampled.push(sequence);
        return;
      }
      // As if sampled: the forced text, then EOS, cut at a stop string or at maxNewTokens.
      const planned = [...tokenizer.encode(text), ...tokenizer.eosTokenIds.slice(0, 1)];
      const tokenIds: number[] = [];
      let finishReason: GenerationResult['finishReason'] = 'length';
      for (const id of planned) {
        if (tokenIds.length >= request.maxNewTokens) break;
        tokenIds.push(id);
        if (tokenizer.eosTokenIds.includes(id)) {
          finishReason = 'eos';
          break;
        }
        if (request.stop.some((stop) => tokenizer.decode(tokenIds).includes(stop))) {
          finishReason = 'stop';
          break;
        }
      }
      forced.push({ sequence, tokenIds, finishReason });
    });

    const results: GenerationResult[] = new Array(request.keys.length);
    if (forced.length > 0) {
      const logProbs = await score(
        forced.map((item) => request.prompts[item.sequence]!),
        forced.map((item) => item.tokenIds),
      );
      forced.forEach((item, i) => {
        results[item.sequence] = {
          tokenIds: item.tokenIds,
          text: tokenizer.decode(item.tokenIds),
          logProbs: logProbs[i] ?? [],
          finishReason: item.finishReason,
        };
      });
    }
    if (sampled.length > 0) {
      const { onDelta, ...rest } = request;
      const innerResults = await inner.generate({
        ...rest,
        prompts: sampled.map((sequence) => request.prompts[sequence]!),
        keys: sampled.map((sequence) => request.keys[sequence]!),
        ...(onDelta !== undefined ? { onDelta: (index, delta) => onDelta(sampled[index]!, delta) } : {}),
      });
      sampled.forEach((sequence, index) => {
        results[sequence] = innerResults[index]!;
      });
    }
    return results;
  }
}
