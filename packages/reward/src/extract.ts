// Pulling the agent's answer and the retrieved blocks out of a generated response.

import { pythonStrip } from '@sr1/core';
import { requireString } from './errors.js';

const ANSWER = /<answer>([\s\S]*?)<\/answer>/g;
const INFORMATION = /<information>([\s\S]*?)<\/information>/g;

/**
 * The content of the last complete `<answer>…</answer>` in `response` (matched non-greedily,
 * across newlines, like Python's `re.finditer(r'<answer>(.*?)</answer>', s, re.DOTALL)`),
 * stripped of Python whitespace; `null` when there is none.
 *
 * Search-R1 scans prompt + response and needs two matches because the prompt's own example
 * counts; sr1 passes the generated response only, so one match suffices — the same rule.
 */
export function extractAnswer(response: string): string | null {
  requireString(response, 'response');
  let last: string | null = null;
  for (const match of response.matchAll(ANSWER)) last = match[1] ?? '';
  return last === null ? null : pythonStrip(last);
}

/** The stripped contents of every `<information>…</information>` block, in order. */
export function extractInformationBlocks(response: string): string[] {
  requireString(response, 'response');
  return Array.from(response.matchAll(INFORMATION), (match) => pythonStrip(match[1] ?? ''));
}
