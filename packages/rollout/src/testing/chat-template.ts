// Qwen2.5's chat template (ChatML with Hermes tool calls) written as a function, for tests of the
// Hermes tool format that run without a jinja engine. It follows the template's layout line for
// line — tools in the system message, `tool` messages grouped in a user turn inside
// <tool_response> — except that tool schemas are written with JSON.stringify (the jinja template's
// `tojson` puts a space after `:` and `,`). @sr1/model's tests render the real template.

import type { ChatTemplateFunction } from './piece-tokenizer.js';

const DEFAULT_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

/** Pieces that make ChatML and Hermes delimiters single tokens in a `PieceTokenizer`. */
export const CHATML_PIECES: readonly string[] = [
  '<|im_start|>',
  '<tool_call>',
  '</tool_call>',
  '<tool_response>',
  '</tool_response>',
];

/** The ChatML turn end, used as the EOS text of a chat `PieceTokenizer`. */
export const CHATML_EOS = '<|im_end|>';

/** Qwen2.5's template: `<|im_start|>role\ncontent<|im_end|>\n` turns, tools in the system turn. */
export const qwenChatTemplate: ChatTemplateFunction = (messages, options) => {
  const tools = options.tools ?? [];
  const first = messages[0];
  let out = '';
  if (tools.length > 0) {
    out += `<|im_start|>system\n${first?.role === 'system' ? first.content : DEFAULT_SYSTEM}`;
    out +=
      '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n<tools>';
    for (const tool of tools) out += `\n${JSON.stringify(tool)}`;
    out +=
      '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n';
  } else {
    out += `<|im_start|>system\n${first?.role === 'system' ? first.content : DEFAULT_SYSTEM}<|im_end|>\n`;
  }
  messages.forEach((message, i) => {
    if (message.role === 'system' && i === 0) return;
    if (message.role === 'tool') {
      if (i === 0 || messages[i - 1]?.role !== 'tool') out += '<|im_start|>user';
      out += `\n<tool_response>\n${message.content}\n</tool_response>`;
      if (i === messages.length - 1 || messages[i + 1]?.role !== 'tool') out += '<|im_end|>\n';
      return;
    }
    out += `<|im_start|>${message.role}\n${message.content}<|im_end|>\n`;
  });
  if (options.addGenerationPrompt) out += '<|im_start|>assistant\n';
  return out;
};
