// What the loop inserts after a turn, in either tool format: the paper's tags (an
// `<information>` block, the reference's invalid-action text) or Hermes tool calls (a `tool`
// message rendered by the chat template). Every observation is tokenised on its own and goes into
// the response with mask 0; the loop itself does not know which format it runs.

import { RolloutInputError } from './errors.js';
import {
  HERMES_INVALID_ACTION_MESSAGE,
  HERMES_STOP_STRINGS,
  hermesTurns,
  parseToolCall,
  type ToolAction,
  type ToolFormat,
  type ToolName,
} from './hermes.js';
import { ACTION_STOP_STRINGS, INVALID_ACTION_MESSAGE, informationBlock, parseAction } from './protocol.js';
import type { OpenedDocument, SearchHit, Tokenizer } from './types.js';

/** Inserted text and its own tokenisation (mask 0). */
export interface Observation {
  text: string;
  ids: number[];
}

/** The text that tells the agent its search budget is spent (in an information block or a tool message). */
export function searchUnavailableMessage(maxSearches: number): string {
  return `Search is unavailable: the budget of ${maxSearches} ${maxSearches === 1 ? 'search' : 'searches'} for this question is spent. Answer with what you have found.`;
}

/**
 * One tool format. `previous` is the turn's last sampled token: a Hermes observation first closes
 * the assistant turn, minus the end-of-turn token when the model already sampled it.
 */
export interface TurnFormat {
  readonly format: ToolFormat;
  readonly stop: readonly string[];
  parse(text: string): ToolAction;
  searchResult(hits: readonly SearchHit[], previous: number | undefined): Observation;
  openResult(id: string, document: OpenedDocument | null, previous: number | undefined): Observation;
  searchRefused(maxSearches: number, previous: number | undefined): Observation;
  invalid(previous: number | undefined): Observation;
}

/** The tag protocol of the reference, character for character (search_r1/llm_agent/generation.py). */
function tagsFormat(tokenizer: Tokenizer, maxObsTokens: number): TurnFormat {
  const invalidIds = tokenizer.encode(INVALID_ACTION_MESSAGE);
  const block = (text: string): Observation => {
    const ids = tokenizer.encode(text);
    const kept = ids.length > maxObsTokens ? ids.slice(0, maxObsTokens) : ids; // the reference cuts the tail
    return { ids: kept, text: kept.length === ids.length ? text : tokenizer.decode(kept) };
  };
  return {
    format: 'tags',
    stop: ACTION_STOP_STRINGS,
    parse: (text) => {
      const action = parseAction(text);
      return action.type === 'invalid' ? { type: 'invalid', reason: 'no <search> or <answer>' } : action;
    },
    searchResult: (hits) => block(informationBlock(hits)),
    searchRefused: (maxSearches) =>
      block(`\n\n<information>${searchUnavailableMessage(maxSearches)}</information>\n\n`),
    openResult: () => {
      throw new RolloutInputError(
        'tools',
        'unreachable: the tag format offers no open tool (resolveConfig refuses it)',
      );
    },
    invalid: () => ({ ids: invalidIds, text: INVALID_ACTION_MESSAGE }),
  };
}

/** Search results as a tool message: the reference's `Doc i(Title: …) text` lines, with ids when `open` is offered. */
function hermesDocuments(hits: readonly SearchHit[], withIds: boolean): string {
  if (hits.length === 0) return 'No results.';
  return hits
    .map((hit, i) => {
      const lines = hit.contents.split('\n');
      const id = withIds ? ` [id: ${hit.id}]` : '';
      return `Doc ${i + 1}${id}(Title: ${lines[0] ?? ''}) ${lines.slice(1).join('\n')}`;
    })
    .join('\n');
}

/** Native tool calls, rendered by the tokenizer's chat template (see hermes.ts). */
function hermesFormat(tokenizer: Tokenizer, tools: readonly ToolName[], maxObsTokens: number): TurnFormat {
  const turns = hermesTurns(tokenizer, tools);
  const eos = new Set(tokenizer.eosTokenIds);
  const close = (previous: number | undefined): string => {
    if (previous === undefined || !eos.has(previous)) return turns.assistantEnd;
    const sampled = tokenizer.decode([previous]);
    return turns.assistantEnd.startsWith(sampled)
      ? turns.assistantEnd.slice(sampled.length)
      : turns.assistantEnd;
  };
  // The content is cut to maxObsTokens, never the template's delimiters around it.
  const cut = (content: string): string => {
    const ids = tokenizer.encode(content);
    return ids.length > maxObsTokens ? tokenizer.decode(ids.slice(0, maxObsTokens)) : content;
  };
  const observation = (text: string): Observation => ({ text, ids: tokenizer.encode(text) });
  const toolMessage = (content: string, previous: number | undefined) =>
    observation(close(previous) + turns.toolResponse(cut(content)));
  return {
    format: 'hermes',
    stop: HERMES_STOP_STRINGS,
    parse: (text) => parseToolCall(text, tools),
    searchResult: (hits, previous) => toolMessage(hermesDocuments(hits, tools.includes('open')), previous),
    openResult: (id, document, previous) =>
      toolMessage(
        document === null ? `No document with id '${id}'.` : `Title: ${document.title}\n${document.text}`,
        previous,
      ),
    searchRefused: (maxSearches, previous) => toolMessage(searchUnavailableMessage(maxSearches), previous),
    invalid: (previous) => observation(close(previous) + turns.userMessage(HERMES_INVALID_ACTION_MESSAGE)),
  };
}

/** The format a resolved config asks for. */
export function turnFormat(
  config: { toolFormat: ToolFormat; tools: readonly ToolName[]; maxObsTokens: number },
  tokenizer: Tokenizer,
): TurnFormat {
  return config.toolFormat === 'hermes'
    ? hermesFormat(tokenizer, config.tools, config.maxObsTokens)
    : tagsFormat(tokenizer, config.maxObsTokens);
}
