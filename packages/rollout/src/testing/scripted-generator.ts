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

/** Plays back `scripts[key][turn]`, where `turn` counts the calls that included `key`. */
export class ScriptedGenerator implements Generator {
  readonly calls: RecordedRequest[] = [];
  private readonly turnOf = new Map<string, number>();

  constructor(private readonly options: ScriptedGeneratorOptions) {}

  async generate(request: GenerationRequest): Promise<GenerationResult[]> {
    const { onDelta: _onDelta, signal: _signal, ...recorded } = request;
    this.calls.push(structuredClone(recorded));
    const { tokenizer } = this.options;
    const eos = tokenizer.eosTokenIds[0];
    return request.keys.map((key, sequence) => {
      const turn = this.turnOf.get(key) ?? 0;
      this.turnOf.set(key, turn + 1);
      const script = this.options.scripts[key]?.[turn];
      const planned =
        script === undefined ? [] : typeof script === 'string' ? tokenizer.encode(script) : [...script];
      if (eos !== undefined) planned.push(eos); // a script that runs out ends the sequence
      const tokenIds: number[] = [];
      let finishReason: GenerationResult['finishReason'] = 'length';
      for (const id of planned) {
        if (tokenIds.length >= request.maxNewTokens) break;
        tokenIds.push(id);
        if (this.options.stream)
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
    });
  }
}
