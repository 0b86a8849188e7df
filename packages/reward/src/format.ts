// The Search-R1 format check and the format-aware reward (qa_em_format.py), applied to the
// generated response (with its inserted <information> blocks) rather than prompt + response.

import { pythonStrip } from '@sr1/core';
import { requireGoldAnswers, requireString } from './errors.js';
import { extractAnswer, extractInformationBlocks } from './extract.js';
import { exactMatch } from './metrics.js';
import { normalizeAnswer } from './normalize.js';

const TAGS = ['think', 'search', 'information', 'answer'] as const;
const TAG_SPLIT = /(<\/?(?:think|search|information|answer)>)/;

/** Where the format check stands: in a tag, after one, or done. */
type FormatState =
  | 'start'
  | 'in_think'
  | 'after_think'
  | 'in_search'
  | 'after_search'
  | 'in_information'
  | 'information'
  | 'in_answer'
  | 'end';

/** The transitions of the reference's state machine: tag → (state it is allowed in → next state). */
const TRANSITIONS: Record<string, Partial<Record<FormatState, FormatState>>> = {
  '<think>': { start: 'in_think', information: 'in_think' },
  '</think>': { in_think: 'after_think' },
  '<search>': { after_think: 'in_search' },
  '</search>': { in_search: 'after_search' },
  '<information>': { after_search: 'in_information' },
  '</information>': { in_information: 'information' },
  '<answer>': { after_think: 'in_answer' },
  '</answer>': { in_answer: 'end' },
};

const INSIDE_TAG: ReadonlySet<FormatState> = new Set([
  'in_think',
  'in_search',
  'in_information',
  'in_answer',
]);

/** Result of the format check; `reason` says what broke it, in the reference's words. */
export interface FormatCheck {
  valid: boolean;
  reason: string;
}

/**
 * Checks the Search-R1 response format: balanced tags in the order
 * think → (search → information → think)* → answer, with only whitespace between tags and
 * nothing but whitespace after the answer. Mirrors `is_valid_sequence` of the reference, minus its
 * search for the `<|im_start|>assistant` marker (sr1 passes the response itself).
 */
export function validateFormat(response: string): FormatCheck {
  requireString(response, 'response');
  for (const tag of TAGS) {
    const opening = countOccurrences(response, `<${tag}>`);
    const closing = countOccurrences(response, `</${tag}>`);
    if (opening !== closing) {
      return {
        valid: false,
        reason: `Mismatch in ${tag} tags: ${opening} opening vs ${closing} closing tags`,
      };
    }
  }
  let state: FormatState = 'start';
  for (const part of response.split(TAG_SPLIT)) {
    if (pythonStrip(part) === '') continue;
    const transitions = TRANSITIONS[part];
    if (transitions !== undefined) {
      const next: FormatState | undefined = transitions[state];
      if (next === undefined) return { valid: false, reason: `Unexpected tag ${part} in state ${state}` };
      state = next;
    } else if (!INSIDE_TAG.has(state)) {
      if (state === 'end') return { valid: false, reason: `Unexpected content in state ${state}` };
      return {
        valid: false,
        reason: `Unexpected content '${pythonStrip(part)}' between tags (state: ${state})`,
      };
    }
  }
  if (state !== 'end') return { valid: false, reason: `Incomplete sequence, ended in state ${state}` };
  return { valid: true, reason: 'Valid sequence format' };
}

function countOccurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** The scores of the format reward; defaults are the values the Search-R1 format runs use. */
export interface FormatRewardOptions {
  /** Reward for a correct answer in a valid format. */
  score?: number; // 1.0: the reference's full reward
  /** Reward for a valid format without a correct answer; subtracted when correct but invalid. */
  structureFormatScore?: number; // 0.2: the reference's format runs (correct+invalid → 0.8)
  /** Reward for a wrong answer in an invalid format (an answer was at least given). */
  finalFormatScore?: number; // 0.1: the reference's format runs
  /** Extra reward when the format is valid, the answer is not correct, and a gold answer appears
   *  in a retrieved block. */
  retrievalScore?: number; // 0: the reference's default; >0 rewards finding the evidence
}

/** True when some normalised gold answer occurs inside some normalised `<information>` block. */
export function isRetrievalCorrect(response: string, goldAnswers: readonly string[] | string): boolean {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers').map(normalizeAnswer);
  return extractInformationBlocks(response).some((block) => {
    const normalized = normalizeAnswer(block);
    return golds.some((gold) => normalized.includes(gold));
  });
}

/**
 * The format-aware reward of Search-R1 (`compute_score_em` in qa_em_format.py), with its scores:
 *
 * | answer         | valid format                    | invalid format |
 * |----------------|---------------------------------|----------------|
 * | correct (EM)   | score (1.0)                     | score − structure (0.8) |
 * | wrong          | structure (+ retrieval if found) (0.2) | final (0.1) |
 * | none           | structure (+ retrieval if found) (0.2) | 0          |
 */
export function formatReward(
  response: string,
  goldAnswers: readonly string[] | string,
  options: FormatRewardOptions = {},
): number {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const score = options.score ?? 1;
  const structure = options.structureFormatScore ?? 0.2;
  const final = options.finalFormatScore ?? 0.1;
  const retrieval = options.retrievalScore ?? 0;
  const { valid } = validateFormat(response);
  const formatOnly = (): number =>
    retrieval !== 0 && isRetrievalCorrect(response, golds) ? structure + retrieval : structure;
  const answer = extractAnswer(response);
  if (answer === null) return valid ? formatOnly() : 0;
  if (exactMatch(answer, golds) === 1) return valid ? score : score - structure;
  return valid ? formatOnly() : final;
}

/** The plain EM reward of the paper's main runs: EM of the last `<answer>`, 0 without one. */
export function exactMatchReward(response: string, goldAnswers: readonly string[] | string): 0 | 1 {
  const golds = requireGoldAnswers(goldAnswers, 'goldAnswers');
  const answer = extractAnswer(response);
  return answer === null ? 0 : exactMatch(answer, golds);
}
