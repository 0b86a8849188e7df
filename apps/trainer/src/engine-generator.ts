// The local engine as @sr1/rollout's Generator (through @sr1/model's `generatorFromEngine`), counting
// the tokens it generates so the trainer can report tokens/s.

import { type DecoderRunner, generate, generatorFromEngine, type ModelTokenizer } from '@sr1/model';
import type { Generator } from '@sr1/rollout';

export interface CountingGenerator {
  generator: Generator;
  /** Tokens generated so far. */
  generatedTokens(): number;
}

export function engineGenerator(runner: DecoderRunner, tokenizer: ModelTokenizer): CountingGenerator {
  let count = 0;
  const generator = generatorFromEngine(async (prompts, options) => {
    const sequences = await generate(runner, tokenizer, prompts, options);
    for (const sequence of sequences) count += sequence.tokenIds.length;
    return sequences;
  });
  return { generator, generatedTokens: () => count };
}
