// Prompt settings shared by training, evaluation and the demo.

import type { PromptOptions, ToolFormat, ToolName } from '@sr1/rollout';

/**
 * A short instruction for the toy world: the same tags as the reference prompt in a few tokens, so
 * a small model's context goes to passages rather than to a 150-token instruction.
 */
export const TOY_TEMPLATE =
  'Answer the question. Think inside <think> </think>, search with <search> query </search>, ' +
  'and give the answer inside <answer> </answer>. Question: {question}\n';

/**
 * The prompt of a run. With native tool calls (`toolFormat: 'hermes'`) the tools go through the
 * chat template and the reference instruction becomes its tool-call wording ('search-r1-hermes').
 */
export function promptOptions(
  prompt: { template: string; chatTemplate: 'auto' | boolean },
  rollout?: { toolFormat: ToolFormat; tools: readonly ToolName[] },
): PromptOptions {
  const hermes = rollout?.toolFormat === 'hermes';
  const preset = hermes ? 'search-r1-hermes' : 'search-r1';
  return {
    template: prompt.template === 'search-r1' ? preset : { text: prompt.template },
    chatTemplate: prompt.chatTemplate,
    ...(rollout?.toolFormat === 'hermes' ? { tools: rollout.tools } : {}),
  };
}
