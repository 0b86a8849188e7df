// @sr1/spec's Tokenizer (as `ModelTokenizer`, with the ids generation needs) over Hugging Face's
// tokenizers.js (@huggingface/tokenizers, the tokenizer @huggingface/transformers wraps, without its
// ONNX runtimes) and jinja for chat templates, loaded from local files only (tokenizer.json +
// tokenizer_config.json are read here and handed to the constructor, so nothing is ever fetched).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import type { ChatMessage, Tokenizer, ToolSchema } from '@sr1/spec';
import { MissingFileError, TokenizerError } from '../errors.js';

/**
 * A loaded tokenizer: @sr1/spec's `Tokenizer` (what the rollout and SFT need) with the vocabulary's
 * ids that generation and scoring need, and a chat template that is always callable.
 */
export interface ModelTokenizer extends Tokenizer {
  /** Number of ids (learned vocabulary + added tokens). */
  readonly vocabSize: number;
  /** Ids that end a sequence (the tokenizer's eos token first). */
  readonly eosTokenIds: readonly number[];
  /** Id used for padding (the pad token, else the first eos id). */
  readonly padTokenId: number;
  readonly bosTokenId: number | null;
  /** Whether `tokenizer_config.json` has a chat template. */
  readonly hasChatTemplate: boolean;
  /** Text → ids, without special tokens added (special-token strings in the text are still matched). */
  encode(text: string): number[];
  /** Ids → text; special tokens are kept unless `skipSpecialTokens`. No clean-up of spaces. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  /**
   * Renders a conversation with the chat template (a TokenizerError if there is none); `tools`
   * (function schemas) go to the template's `tools` variable, as transformers passes them.
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options?: { addGenerationPrompt?: boolean; tools?: readonly ToolSchema[] },
  ): string;
  /** The id of a token string, or undefined. */
  tokenToId(token: string): number | undefined;
}

/** Builds a ModelTokenizer from parsed `tokenizer.json` and `tokenizer_config.json` objects. */
export function createTokenizer(
  tokenizerJson: unknown,
  tokenizerConfig: unknown,
  files: { tokenizerFile?: string; configFile?: string } = {},
): ModelTokenizer {
  const tokenizerFile = files.tokenizerFile ?? 'tokenizer.json';
  const configFile = files.configFile ?? 'tokenizer_config.json';
  if (typeof tokenizerJson !== 'object' || tokenizerJson === null) {
    throw new TokenizerError(tokenizerFile, 'expected a JSON object');
  }
  const config = (tokenizerConfig ?? {}) as Record<string, unknown>;
  let inner: HfTokenizer;
  try {
    inner = new HfTokenizer(tokenizerJson, config);
  } catch (error) {
    throw new TokenizerError(
      tokenizerFile,
      `tokenizers.js cannot build the tokenizer: ${(error as Error).message}`,
    );
  }
  const vocab = inner.get_vocab();
  let vocabSize = 0;
  for (const id of vocab.values()) vocabSize = Math.max(vocabSize, id + 1);
  const idOf = (field: string): number | null => {
    const value = config[field];
    const token = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
    if (token === undefined || token === null) return null;
    if (typeof token !== 'string') throw new TokenizerError(configFile, 'expected a token string', field);
    const id = vocab.get(token);
    if (id === undefined)
      throw new TokenizerError(configFile, `token '${token}' is not in the vocabulary`, field);
    return id;
  };
  const eos = idOf('eos_token');
  const pad = idOf('pad_token');
  const bos = idOf('bos_token');
  if (eos === null && pad === null) {
    throw new TokenizerError(configFile, 'needs an eos_token or a pad_token for generation', 'eos_token');
  }
  const chatTemplate = config.chat_template;
  const hasChatTemplate = typeof chatTemplate === 'string' || Array.isArray(chatTemplate);
  let template: Template | undefined; // compiled on first use
  return {
    vocabSize,
    eosTokenIds: eos === null ? [] : [eos],
    padTokenId: pad ?? eos!,
    bosTokenId: bos,
    hasChatTemplate,
    encode: (text) => inner.encode(text, { add_special_tokens: false }).ids,
    decode: (ids, options = {}) =>
      ids.length === 0
        ? '' // tokenizers.js rejects an empty list
        : inner.decode([...ids], {
            skip_special_tokens: options.skipSpecialTokens ?? false,
            clean_up_tokenization_spaces: false,
          }),
    applyChatTemplate: (messages, options = {}) => {
      if (!hasChatTemplate)
        throw new TokenizerError(configFile, 'the tokenizer has no chat template', 'chat_template');
      template ??= new Template(chatTemplateText(chatTemplate, configFile));
      // What transformers' apply_chat_template passes: the messages, the flag and the special tokens.
      return template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: options.addGenerationPrompt ?? false,
        tools: options.tools === undefined || options.tools.length === 0 ? null : options.tools,
        documents: null,
        ...specialTokens(config),
      });
    },
    tokenToId: (token) => vocab.get(token),
  };
}

/** The template text: the string, or from a list of named templates the one named 'default'. */
function chatTemplateText(value: unknown, configFile: string): string {
  if (typeof value === 'string') return value;
  const named = (value as { name?: unknown; template?: unknown }[]).find(
    (entry) => entry?.name === 'default',
  );
  if (typeof named?.template !== 'string')
    throw new TokenizerError(configFile, "no chat template named 'default'", 'chat_template');
  return named.template;
}

/** bos_token, eos_token, … as strings (an AddedToken object gives its content), for the template. */
function specialTokens(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of [
    'bos_token',
    'eos_token',
    'unk_token',
    'sep_token',
    'pad_token',
    'cls_token',
    'mask_token',
  ]) {
    const value = config[key];
    const token = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
    if (typeof token === 'string' && token !== '') out[key] = token;
  }
  return out;
}

/** Loads `tokenizer.json` (+ `tokenizer_config.json` when present) from a local folder; never fetches. */
export async function loadTokenizer(dir: string): Promise<ModelTokenizer> {
  const tokenizerFile = join(dir, 'tokenizer.json');
  const configFile = join(dir, 'tokenizer_config.json');
  const tokenizerJson = await readJson(tokenizerFile, false);
  const tokenizerConfig = await readJson(configFile, true);
  return createTokenizer(tokenizerJson, tokenizerConfig ?? {}, { tokenizerFile, configFile });
}

async function readJson(file: string, optional: boolean): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MissingFileError(file, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(file, `invalid JSON: ${(error as Error).message}`);
  }
}
