// Native tool calls in the Hermes layout (Qwen2.5 and the many chat models trained on it): the
// tool schemas go through the chat template's `tools`, the model writes
// `<tool_call>{"name": …, "arguments": {…}}</tool_call>`, and results come back as `tool` messages
// rendered by the same template. The final answer stays `<answer>…</answer>`, so the EM reward
// reads it exactly as in the tag protocol.

import { pythonStrip } from '@sr1/core';
import { RolloutInputError } from './errors.js';
import type { ChatMessage, Tokenizer, ToolSchema } from './types.js';

/** How the agent calls its tools: the paper's `<search>` tags, or native Hermes tool calls. */
export type ToolFormat = 'tags' | 'hermes';

/** The tools a rollout can offer: `search` always, `open` (a passage's whole document) optionally. */
export type ToolName = 'search' | 'open';

/** The function schemas of the tools, as the chat template's `tools` takes them. */
export const TOOL_SCHEMAS = {
  search: {
    type: 'function',
    function: {
      name: 'search',
      description: 'Search the knowledge base. Returns the top passages for the query, best first.',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string', description: 'What to search for.' } },
        required: ['query'],
      },
    },
  },
  open: {
    type: 'function',
    function: {
      name: 'open',
      description: 'Open the whole document a passage came from, by the passage id a search returned.',
      parameters: {
        type: 'object',
        properties: { id: { type: 'string', description: 'A passage id from a search result.' } },
        required: ['id'],
      },
    },
  },
} satisfies Record<ToolName, ToolSchema>;

/** The stop strings of a Hermes turn: generation ends at the first completed tool call or answer. */
export const HERMES_STOP_STRINGS = ['</tool_call>', '</answer>'] as const;

/** Sent as a user message after a Hermes turn with no valid action (masked from the loss). */
export const HERMES_INVALID_ACTION_MESSAGE =
  'Your previous turn had no valid action. To use a tool, write <tool_call>{"name": ..., "arguments": {...}}</tool_call>. ' +
  'To give the final answer, put it between <answer> and </answer>.';

/** An action parsed from one turn, in either format. */
export type ToolAction =
  | { type: 'search'; query: string }
  | { type: 'open'; id: string }
  | { type: 'answer'; answer: string }
  | { type: 'invalid'; reason: string };

const HERMES_ACTION = /<tool_call>([\s\S]*?)<\/tool_call>|<answer>([\s\S]*?)<\/answer>/;

/**
 * The first `<tool_call>…</tool_call>` or `<answer>…</answer>` of a Hermes turn. A call whose body
 * is not a JSON object `{"name", "arguments"}` naming an offered tool with its required string
 * argument is invalid (and says why). `arguments` may also be a JSON string, as OpenAI writes it.
 */
export function parseToolCall(text: string, tools: readonly ToolName[]): ToolAction {
  const match = HERMES_ACTION.exec(text);
  if (match === null) return { type: 'invalid', reason: 'no <tool_call> or <answer>' };
  if (match[2] !== undefined) return { type: 'answer', answer: pythonStrip(match[2]) };
  let call: unknown;
  try {
    call = JSON.parse(match[1] ?? '');
  } catch {
    return { type: 'invalid', reason: 'the tool call is not JSON' };
  }
  if (typeof call !== 'object' || call === null || Array.isArray(call))
    return { type: 'invalid', reason: 'the tool call is not a JSON object' };
  const { name } = call as { name?: unknown };
  let args = (call as { arguments?: unknown }).arguments;
  if (typeof name !== 'string' || !(tools as readonly string[]).includes(name))
    return { type: 'invalid', reason: `unknown tool ${JSON.stringify(name)}; offered: ${tools.join(', ')}` };
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      return { type: 'invalid', reason: 'the arguments are not JSON' };
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args))
    return { type: 'invalid', reason: 'the arguments are not a JSON object' };
  const field = name === 'search' ? 'query' : 'id';
  const value = (args as Record<string, unknown>)[field];
  const content =
    typeof value === 'string' ? pythonStrip(value) : typeof value === 'number' ? String(value) : '';
  if (content === '') return { type: 'invalid', reason: `${name} needs a non-empty "${field}"` };
  return name === 'search' ? { type: 'search', query: content } : { type: 'open', id: content };
}

/** The Hermes conversation pieces, rendered by the tokenizer's own chat template. */
export interface HermesTurns {
  /** What closes an assistant turn (`<|im_end|>\n` for Qwen2.5). */
  assistantEnd: string;
  /** A `tool` message and the next assistant turn's opening, as the template renders them. */
  toolResponse(content: string): string;
  /** A `user` message and the next assistant turn's opening. */
  userMessage(content: string): string;
}

const MARKER = 'sr1-assistant-turn'; // any text the template copies verbatim

/**
 * Splits the tokenizer's chat template into the pieces the loop inserts, by rendering a short
 * conversation with and without the next message and keeping the difference (the prompt itself is
 * rendered the same way, with the same `tools`). A template that ignores `tools`, or whose
 * renderings are not prefixes of each other, is refused.
 */
export function hermesTurns(tokenizer: Tokenizer, tools: readonly ToolName[]): HermesTurns {
  const apply = tokenizer.applyChatTemplate?.bind(tokenizer);
  if (tokenizer.hasChatTemplate !== true || apply === undefined)
    throw new RolloutInputError('toolFormat', "'hermes' needs a tokenizer with a chat template");
  const schemas = toolSchemas(tools);
  const render = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) =>
    apply(messages, { addGenerationPrompt, tools: schemas });
  const base: ChatMessage[] = [{ role: 'user', content: 'question' }];
  const opened = render(base, true);
  if (opened === apply(base, { addGenerationPrompt: true }))
    throw new RolloutInputError(
      'toolFormat',
      "'hermes' needs a chat template that renders `tools`; this one ignores them",
    );
  const assistant: ChatMessage = { role: 'assistant', content: MARKER };
  const closed = render([...base, assistant], false);
  if (!closed.startsWith(opened + MARKER))
    throw new RolloutInputError(
      'toolFormat',
      'the chat template does not render an assistant turn after its generation prompt',
    );
  const after = (message: ChatMessage) => {
    const full = render([...base, assistant, message], true);
    if (!full.startsWith(closed))
      throw new RolloutInputError(
        'toolFormat',
        `the chat template re-renders earlier turns after a ${message.role} message`,
      );
    return full.slice(closed.length);
  };
  after({ role: 'tool', content: 'result' }); // fail at the start, not at the first search
  return {
    assistantEnd: closed.slice(opened.length + MARKER.length),
    toolResponse: (content) => after({ role: 'tool', content }),
    userMessage: (content) => after({ role: 'user', content }),
  };
}

/** The schemas of the offered tools, in order. */
export function toolSchemas(tools: readonly ToolName[]): ToolSchema[] {
  return tools.map((tool) => TOOL_SCHEMAS[tool]);
}
