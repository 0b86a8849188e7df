// SFT data: JSONL records (`text`, `prompt`+`response`, `messages`, or explicit `segments`) turned
// into token sequences with a loss mask, so prompts and inserted retrieval text cost no loss.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidInputError } from '@sr1/core';
import type { ChatMessage, Tokenizer } from '@sr1/spec';

/** The part of @sr1/spec's `Tokenizer` the SFT pipeline needs; @sr1/model's tokenizer implements it. */
export type SftTokenizer = Pick<Tokenizer, 'encode' | 'eosTokenIds' | 'applyChatTemplate'>;

/** A piece of an example's text; `loss: false` pieces are context only. */
export interface Segment {
  text: string;
  loss: boolean;
}

/** One tokenised example: tokens and a 0/1 loss mask of the same length. */
export interface TokenizedExample {
  tokens: number[];
  lossMask: number[];
  /** Tokens dropped from the end by `maxLength`. */
  truncated: number;
}

/**
 * Reads SFT examples from a JSONL file. Each line is one of
 * `{"text"}` (loss on everything), `{"prompt", "response"}` (loss on the response),
 * `{"messages": [{role, content}]}` (loss on the last assistant message, chat template applied), or
 * `{"segments": [{"text", "loss"}]}`. A bad line is a typed error naming the file and line.
 */
export async function readSftJsonl(file: string): Promise<Segment[][]> {
  const examples: Segment[][] = [];
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let lineNumber = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      let record: unknown;
      try {
        record = JSON.parse(line);
      } catch (error) {
        throw new InvalidInputError({
          code: 'sft_data',
          file,
          line: lineNumber,
          reason: `invalid JSON (${(error as Error).message})`,
        });
      }
      examples.push(recordToSegments(record, { file, line: lineNumber }));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new InvalidInputError({ code: 'sft_data', file, reason: 'file not found' });
    }
    throw error;
  }
  return examples;
}

/** Marks a record for chat rendering; resolved against a tokenizer by `tokenizeExample`. */
const CHAT = Symbol('chat');
type ChatSegments = Segment[] & { [CHAT]?: ChatMessage[] };

/** Validates one record and converts it to segments (chat records are rendered later). */
export function recordToSegments(record: unknown, where: { file?: string; line?: number } = {}): Segment[] {
  const fail = (field: string | undefined, reason: string): never => {
    throw new InvalidInputError({
      code: 'sft_data',
      ...where,
      ...(field !== undefined ? { field } : {}),
      reason,
    });
  };
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    fail(undefined, 'expected a JSON object');
  const r = record as Record<string, unknown>;
  const text = (field: string, value: unknown): string =>
    typeof value === 'string'
      ? value
      : fail(field, `expected a string, got ${value === null ? 'null' : typeof value}`);
  if (r.segments !== undefined) {
    if (!Array.isArray(r.segments) || r.segments.length === 0) fail('segments', 'expected a non-empty array');
    return (r.segments as unknown[]).map((segment, i) => {
      const s = (segment ?? {}) as Record<string, unknown>;
      if (typeof s.loss !== 'boolean') fail(`segments[${i}].loss`, 'expected true or false');
      return { text: text(`segments[${i}].text`, s.text), loss: s.loss as boolean };
    });
  }
  if (r.prompt !== undefined || r.response !== undefined) {
    return [
      { text: text('prompt', r.prompt), loss: false },
      { text: text('response', r.response), loss: true },
    ];
  }
  if (r.text !== undefined) return [{ text: text('text', r.text), loss: true }];
  if (r.messages !== undefined) {
    if (!Array.isArray(r.messages) || r.messages.length === 0) fail('messages', 'expected a non-empty array');
    const messages = (r.messages as unknown[]).map((message, i) => {
      const m = (message ?? {}) as Record<string, unknown>;
      if (m.role !== 'system' && m.role !== 'user' && m.role !== 'assistant') {
        fail(`messages[${i}].role`, `expected system, user or assistant, got ${JSON.stringify(m.role)}`);
      }
      return { role: m.role as ChatMessage['role'], content: text(`messages[${i}].content`, m.content) };
    });
    if (messages.at(-1)?.role !== 'assistant')
      fail('messages', 'the last message must be the assistant’s (the loss target)');
    const segments: ChatSegments = [];
    segments[CHAT] = messages;
    return segments;
  }
  return fail(undefined, 'expected one of the fields text, prompt+response, messages or segments');
}

/**
 * Tokenises segments separately and concatenates them (the loss mask follows the segments), then
 * appends EOS with loss when the example ends with a loss segment, and truncates to `maxLength`.
 */
export function tokenizeExample(
  segments: Segment[],
  tokenizer: SftTokenizer,
  maxLength: number,
): TokenizedExample {
  const chat = (segments as ChatSegments)[CHAT];
  let pieces = segments;
  if (chat !== undefined) {
    if (tokenizer.applyChatTemplate === undefined) {
      throw new InvalidInputError({
        code: 'sft_data',
        field: 'messages',
        reason: 'the tokenizer has no chat template',
      });
    }
    const prompt = tokenizer.applyChatTemplate(chat.slice(0, -1), { addGenerationPrompt: true });
    pieces = [
      { text: prompt, loss: false },
      { text: chat.at(-1)!.content, loss: true },
    ];
  }
  const tokens: number[] = [];
  const lossMask: number[] = [];
  for (const segment of pieces) {
    for (const token of tokenizer.encode(segment.text)) {
      tokens.push(token);
      lossMask.push(segment.loss ? 1 : 0);
    }
  }
  const eos = tokenizer.eosTokenIds[0];
  if (eos !== undefined && pieces.at(-1)?.loss === true) {
    tokens.push(eos);
    lossMask.push(1);
  }
  const truncated = Math.max(0, tokens.length - maxLength);
  return { tokens: tokens.slice(0, maxLength), lossMask: lossMask.slice(0, maxLength), truncated };
}
