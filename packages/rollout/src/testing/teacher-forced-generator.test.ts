import { describe, expect, it } from 'vitest';
import { encodePrompt } from '../prompt.js';
import { informationBlock } from '../protocol.js';
import { runRollout } from '../rollout.js';
import { InMemoryRetriever } from './in-memory-retriever.js';
import { PieceTokenizer } from './piece-tokenizer.js';
import { RuleBasedGenerator } from './scripted-generator.js';
import { TeacherForcedGenerator } from './teacher-forced-generator.js';

const tokenizer = new PieceTokenizer();

describe('TeacherForcedGenerator', () => {
  it('forces the chosen turns with scored log-probs and samples the others from the inner generator', async () => {
    const inner = new RuleBasedGenerator({ tokenizer, respond: () => '<answer> sampled </answer>' });
    const scored: number[][] = [];
    const generator = new TeacherForcedGenerator({
      inner,
      tokenizer,
      force: (key, turn) =>
        key === 'a' && turn === 0 ? '<search> moon landing </search> never sampled' : undefined,
      score: async (prompts, continuations) => {
        scored.push(...prompts.map((prompt) => [prompt.length]));
        return continuations.map((ids) => ids.map((_, i) => -(i + 1)));
      },
    });
    const prompts = ['a', 'b'].map((id) => ({
      id,
      promptTokenIds: encodePrompt(`question ${id}`, tokenizer),
    }));
    const [a, b] = await runRollout(prompts, { generator, retriever: new InMemoryRetriever(), tokenizer });
    const forced = tokenizer.encode('<search> moon landing </search>');
    const block = tokenizer.encode(
      informationBlock((await new InMemoryRetriever().search(['moon landing'], 3))[0]!),
    );
    expect(a!.responseTokenIds.slice(0, forced.length + block.length)).toEqual([...forced, ...block]);
    expect(Array.from(a!.logProbs.slice(0, forced.length))).toEqual(forced.map((_, i) => -(i + 1)));
    expect(a!.answer).toBe('sampled');
    expect(b!.turns).toBe(1);
    // the inner generator saw b's first turn and a's second, never a's forced one
    expect(inner.calls.map((call) => call.prompts.length)).toEqual([1, 1]);
    expect(scored).toEqual([[prompts[0]!.promptTokenIds.length]]);
  });
});
