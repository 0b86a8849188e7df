// Text ↔ token ids: what the agent loop, the SFT pipeline and the engine need from a tokenizer.
// `@sr1/model`'s tokenizer implements it (its `ModelTokenizer` adds the vocabulary's ids).

/** One chat turn, as a tokenizer's chat template takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

/**
 * Text ↔ token ids. The rollout tokenises only what it inserts (prompt, information blocks,
 * the invalid-action message); generated tokens come from the `Generator` as sampled.
 */
export interface Tokenizer {
  /** Ids that end a sequence. */
  readonly eosTokenIds: readonly number[];
  /** Text → ids, without special tokens added. */
  encode(text: string): number[];
  /** Ids → text. */
  decode(ids: readonly number[]): string;
  /** Whether `applyChatTemplate` can be used (the reference applies it when the tokenizer has one). */
  readonly hasChatTemplate?: boolean;
  /**
   * Renders a conversation with the tokenizer's chat template; `tools` (function schemas) go to the
   * template's `tools` variable, as transformers' `apply_chat_template(..., tools=...)` passes them.
   */
  applyChatTemplate?(
    messages: readonly ChatMessage[],
    options?: { addGenerationPrompt?: boolean; tools?: readonly ToolSchema[] },
  ): string;
}

/** A function tool as chat templates take it (the OpenAI / transformers JSON-schema layout). */
export interface ToolSchema {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}
