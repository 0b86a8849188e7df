// Prompts: the reference instruction as a named preset (kept verbatim, typo included, because the
// published checkpoints were trained on it), custom templates, and the tokenizer's chat template.

import { lookupVariant, pythonStrip } from '@sr1/core';
import { SEARCH_R1_INSTRUCTION } from '@sr1/spec';
import { RolloutInputError } from './errors.js';
import { type ToolName, toolSchemas } from './hermes.js';
import type { Tokenizer } from './types.js';

/** Turns a question into the instruction text (before any chat template). */
export type PromptTemplate = (question: string) => string;

/** Names of the built-in templates. */
export type PromptPreset = 'search-r1' | 'search-r1-hermes';

/** Search-R1's instruction for native tool calls: the tools are described by the chat template, the answer stays in tags. */
const HERMES_INSTRUCTION =
  'Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new information. ' +
  'After reasoning, if you find you lack some knowledge, you can call the search tool and it will return the top searched results. ' +
  'You can search as many times as you want. ' +
  'If you find no further external knowledge needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. ';

/** The built-in templates by name. */
export const PROMPT_TEMPLATES = {
  /** Search-R1's `make_prefix(template_type='base')` (scripts/data_process/nq_search.py). */
  'search-r1': (question) => `${SEARCH_R1_INSTRUCTION}Question: ${question}\n`,
  /** The same instruction for native tool calls (`toolFormat: 'hermes'`): the tools are described by the chat template. */
  'search-r1-hermes': (question) => `${HERMES_INSTRUCTION}Question: ${question}\n`,
} satisfies Record<PromptPreset, PromptTemplate>;

/** The reference's question clean-up: strip, then add `?` unless it ends with one. */
export function normalizeQuestion(question: string): string {
  if (typeof question !== 'string')
    throw new RolloutInputError('question', `expected a string, got ${typeof question}`);
  const stripped = pythonStrip(question);
  if (stripped.length === 0) throw new RolloutInputError('question', 'the question is empty');
  return stripped.endsWith('?') ? stripped : `${stripped}?`;
}

/** A template given by preset name, as a function, or as a string with a `{question}` placeholder. */
export type TemplateSpec = PromptPreset | PromptTemplate | { text: string };

export interface PromptOptions {
  /** Default `'search-r1'`, the reference instruction. */
  template?: TemplateSpec;
  /**
   * Apply the tokenizer's chat template (a single user message, generation prompt added):
   * `'auto'` (default) does when the tokenizer has one, as the reference does.
   */
  chatTemplate?: 'auto' | boolean;
  /** Skip the reference's question clean-up (strip, trailing `?`). */
  rawQuestion?: boolean;
  /**
   * Tools to describe through the chat template's `tools` (for `toolFormat: 'hermes'`, the same
   * list as the rollout's `tools`). Needs a chat template.
   */
  tools?: readonly ToolName[];
}

function resolveTemplate(spec: TemplateSpec): PromptTemplate {
  if (typeof spec === 'function') return spec;
  if (typeof spec === 'string')
    return lookupVariant<PromptTemplate>(PROMPT_TEMPLATES, spec, 'prompt template', 'template');
  if (typeof spec?.text !== 'string' || !spec.text.includes('{question}')) {
    throw new RolloutInputError('template', 'a text template needs a {question} placeholder');
  }
  return (question) => spec.text.split('{question}').join(question);
}

/** The prompt text for a question: template, then the chat template when asked for and available. */
export function buildPrompt(
  question: string,
  tokenizer: Tokenizer | undefined,
  options: PromptOptions = {},
): string {
  const text = resolveTemplate(options.template ?? 'search-r1')(
    options.rawQuestion ? question : normalizeQuestion(question),
  );
  const mode = options.chatTemplate ?? 'auto';
  const available = tokenizer?.hasChatTemplate === true && typeof tokenizer.applyChatTemplate === 'function';
  const tools = options.tools ?? [];
  if ((mode === true || tools.length > 0) && !available) {
    throw new RolloutInputError(
      tools.length > 0 ? 'tools' : 'chatTemplate',
      'the tokenizer has no chat template',
    );
  }
  if (tools.length > 0 && mode === false)
    throw new RolloutInputError('tools', 'tools are described by the chat template; chatTemplate is false');
  if (mode === false || !available) return text;
  return tokenizer!.applyChatTemplate!(
    [{ role: 'user', content: text }],
    tools.length > 0
      ? { addGenerationPrompt: true, tools: toolSchemas(tools) }
      : { addGenerationPrompt: true },
  );
}

/** The prompt token ids for a question (`buildPrompt`, then `tokenizer.encode`). */
export function encodePrompt(question: string, tokenizer: Tokenizer, options: PromptOptions = {}): number[] {
  return tokenizer.encode(buildPrompt(question, tokenizer, options));
}
