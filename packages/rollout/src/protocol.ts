// The Search-R1 text protocol, matched character for character with the reference
// (search_r1/llm_agent/generation.py): action parsing, the information block and the fixed
// invalid-action message.

import { pythonStrip } from '@sr1/core';

/** The text appended after a turn with no parsable action (masked from the loss). */
export const INVALID_ACTION_MESSAGE =
  '\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. ' +
  'If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n';

/** The stop strings of a turn: generation ends at the first completed action. */
export const ACTION_STOP_STRINGS = ['</search>', '</answer>'] as const;

/** An action parsed from one turn's generated text. */
export type AgentAction =
  | { type: 'search'; query: string }
  | { type: 'answer'; answer: string }
  | { type: 'invalid' };

const ACTION = /<(search|answer)>([\s\S]*?)<\/\1>/;

/** The first `<search>…</search>` or `<answer>…</answer>` in `text`, content stripped; else invalid. */
export function parseAction(text: string): AgentAction {
  const match = ACTION.exec(text);
  if (match === null) return { type: 'invalid' };
  const content = pythonStrip(match[2] ?? '');
  return match[1] === 'search' ? { type: 'search', query: content } : { type: 'answer', answer: content };
}

/**
 * Retrieved passages as the reference writes them: `Doc {i}(Title: {first line}) {rest}\n`,
 * i from 1, where the first line of `contents` keeps its quotes.
 */
export function formatDocuments(hits: readonly { contents: string }[]): string {
  let out = '';
  hits.forEach((hit, i) => {
    const lines = hit.contents.split('\n');
    out += `Doc ${i + 1}(Title: ${lines[0] ?? ''}) ${lines.slice(1).join('\n')}\n`;
  });
  return out;
}

/** The observation appended after a search: `\n\n<information>{docs, stripped}</information>\n\n`. */
export function informationBlock(hits: readonly { contents: string }[]): string {
  return `\n\n<information>${pythonStrip(formatDocuments(hits))}</information>\n\n`;
}
