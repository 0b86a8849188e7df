// Prompt settings shared by training, evaluation and the demo.

import type { PromptOptions } from '@sr1/rollout';

/**
 * A short instruction for the toy world: the same tags as the reference prompt in a few tokens, so
 * a small model's context goes to passages rather than to a 150-token instruction.
 */
export const TOY_TEMPLATE =
  'Answer the question. Think inside <think> </think>, search with <search> query </search>, ' +
  'and give the answer inside <answer> </answer>. Question: {question}\n';

export function promptOptions(prompt: { template: string; chatTemplate: 'auto' | boolean }): PromptOptions {
  return {
    template: prompt.template === 'search-r1' ? 'search-r1' : { text: prompt.template },
    chatTemplate: prompt.chatTemplate,
  };
}
