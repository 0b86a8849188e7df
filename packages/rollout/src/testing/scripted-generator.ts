// A Generator test double that plays back scripted continuations token-exactly and records every
// call. It behaves like a real generator at the edges: it stops right after the token that
// completes a stop string, at EOS, or at `maxNewTokens`.

import type { GenerationRequest, GenerationResult, Generator, Tokenizer } from '../types.js';

/** One turn's continuation: text (encoded with the tokenizer) or exact token ids. */
export type ScriptedTurn = string | readonly number[];

export interface ScriptedGeneratorOptions {
  /** Continuations per trajectory key, one per turn; a missing turn generates only EOS. */
  scripts: Record<string, readonly ScriptedTurn[]>;
  tokenizer: Tokenizer & {
    decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
  };
  /** Stream deltas through `request.onDelta`, one token at a time (default false). */
  stream?: boolean;
}

/** The deterministic log-prob the double reports for a token (a fixed function of its id and position). */
export function scriptedLogProb(tokenId: number, position: number): number {
  return -((tokenId % 7) + 1) / 10 - position / 1000;
}

/** A recorded call: the request without its callbacks. */
export type RecordedRequest = Omit<GenerationRequest, 'onDelta' | 'signal'>;

/** Emits `planned` token by token like a real generator: stops after a stop string completes, at EOS, or at the limit. */
function play(
  planned: readonly number[],
  sequence: number,
  request: GenerationRequest,
  tokenizer: ScriptedGeneratorOptions['tokenizer'],
  stream: boolean,
): GenerationResult {
  const tokenIds: number[] = [];
  let finishReason: GenerationResult['finishReason'] = 'length';
  for (const id of planned) {
    if (tokenIds.length >= request.maxNewTokens) break;
    tokenIds.push(id);
    if (stream)
      request.onDelta?.(sequence, {
        text: tokenizer.decode([id], { skipSpecialTokens: true }),
        tokenIds: [id],
      });
    if (tokenizer.eosTokenIds.includes(id)) {
      finishReason = 'eos';
      break;
    }
    const text = tokenizer.decode(tokenIds, { skipSpecialTokens: true });
    if (request.stop.some((stop) => text.includes(stop))) {
      finishReason = 'stop';
      break;
    }
  }
  return {
    tokenIds,
    text: tokenizer.decode(tokenIds, { skipSpecialTokens: true }),
    logProbs: tokenIds.map((id, position) => scriptedLogProb(id, position)),
    finishReason,
  };
}

/** The planned tokens of a turn: the script's tokens, then EOS (a script that runs out ends the sequence). */
function plan(turn: ScriptedTurn | undefined, tokenizer: Tokenizer): number[] {
  const planned = turn === undefined ? [] : typeof turn === 'string' ? tokenizer.encode(turn) : [...turn];
  const eos = tokenizer.eosTokenIds[0];
  if (eos !== undefined) planned.push(eos);
  return planned;
}

function record(request: GenerationRequest): RecordedRequest {
  const { onDelta: _onDelta, signal: _signal, ...recorded } = request;
  return structuredClone(recorded);
}

/** Plays back `scripts[key][turn]`, where `turn` counts the calls that included `key`. */
export class ScriptedGenerator implements Generator {
  readonly calls: RecordedRequest[] = [];
  private readonly turnOf = new Map<string, number>();

  constructor(private readonly options: ScriptedGeneratorOptions) {}

  async generate(request: GenerationRequest): Promise<GenerationResult[]> {
    this.calls.push(record(request));
    return request.keys.map((key, sequence) => {
      const turn = this.turnOf.get(key) ?? 0;
      this.turnOf.set(key, turn + 1);
      const planned = plan(this.options.scripts[key]?.[turn], this.options.tokenizer);
      return play(planned, sequence, request, this.options.tokenizer, this.options.stream ?? false);
    });
  }
}

export interface RuleBasedGeneratorOptions {
  /** The continuation for a prompt (given decoded, and as ids); EOS is appended after it. */
  respond: (promptText: string, promptTokenIds: readonly number[]) => ScriptedTurn;
  tokenizer: ScriptedGeneratorOptions['tokenizer'];
  stream?: boolean;
}

/**
 * A deterministic policy for tests that cannot key scripts by trajectory (behind a server, say):
 * the continuation is a function of the prompt. It records its calls.
 */
export class RuleBasedGenerator implements Generator {
  readonly calls: RecordedRequest[] = [];

  constructor(private readonly options: RuleBasedGeneratorOptions) {}

  async generate(request: GenerationRequest): Promise<GenerationResult[]> {
    this.calls.push(record(request));
    const { tokenizer } = this.options;
    return request.prompts.map((prompt, sequence) => {
      const planned = plan(this.options.respond(tokenizer.decode(prompt), prompt), tokenizer);
      return play(planned, sequence, request, tokenizer, this.options.stream ?? false);
    });
  }
}
