// Seeded random scripts through the loop: whatever the policy writes, the response is the sampled
// turns and the inserted blocks in order, and the mask is 0 on exactly the inserted tokens.

import { createRng, type Rng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { encodePrompt } from './prompt.js';
import { INVALID_ACTION_MESSAGE, informationBlock, parseAction } from './protocol.js';
import { runRollout } from './rollout.js';
import { InMemoryRetriever, SAMPLE_PASSAGES } from './testing/in-memory-retriever.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';
import { ScriptedGenerator, type ScriptedTurn } from './testing/scripted-generator.js';

const tokenizer = new PieceTokenizer();
const words = SAMPLE_PASSAGES.flatMap((p) => p.contents.split(/\s+/)).filter((w) => w.length > 2);

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function randomTurn(rng: Rng): ScriptedTurn {
  const phrase = () => Array.from({ length: 1 + rng.int(4) }, () => pick(rng, words)).join(' ');
  const think = `<think>${phrase()}</think>`;
  switch (rng.int(6)) {
    case 0:
      return `${think}<answer> ${phrase()} </answer>`;
    case 1:
      return `${think}\n<search> ${phrase()} </search>\n\n${phrase()}`; // runs past the stop string
    case 2:
      return `${think}<search>${phrase()}</search>`;
    case 3:
      return `${think} ${phrase()}`; // no action: EOS ends the turn
    case 4:
      return `${think}<search>${phrase()}</answer>`; // mismatched tags
    default:
      return `<search>${phrase()}</search><answer>${phrase()}</answer>`; // the first action wins
  }
}

describe('runRollout invariants over seeded random scripts', () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}`, async () => {
      const rng = createRng(seed);
      const maxTurns = 1 + rng.int(4);
      const maxObsTokens = 50 + rng.int(400);
      const scripts: Record<string, ScriptedTurn[]> = {};
      for (let i = 0; i < 6; i++)
        scripts[`t${i}`] = Array.from({ length: maxTurns + 1 }, () => randomTurn(rng));
      const generator = new ScriptedGenerator({ scripts, tokenizer });
      const retriever = new InMemoryRetriever();
      const trajectories = await runRollout(
        Object.keys(scripts).map((id) => ({ id, promptTokenIds: encodePrompt(`question ${id}`, tokenizer) })),
        { generator, retriever, tokenizer, config: { maxTurns, maxObsTokens, maxTokensPerTurn: 60 } },
      );
      expect(generator.calls.length).toBeLessThanOrEqual(maxTurns + 1);
      expect(retriever.calls.length).toBeLessThanOrEqual(maxTurns);
      const reference = new InMemoryRetriever();
      for (const trajectory of trajectories) {
        const n = trajectory.responseTokenIds.length;
        expect(trajectory.sampledMask).toHaveLength(n);
        expect(trajectory.logProbs).toHaveLength(n);
        // Rebuild the response from the scripts and the retriever, turn by turn.
        const expected: { ids: number[]; mask: 0 | 1 }[] = [];
        let searches = 0;
        for (let turn = 0; turn < trajectory.turns; turn++) {
          const call = generator.calls.filter((c) => c.keys.includes(trajectory.id))[turn]!;
          const planned = [
            ...tokenizer.encode(scripts[trajectory.id]![turn] as string),
            tokenizer.eosTokenId,
          ];
          const sampled: number[] = [];
          for (const id of planned) {
            if (sampled.length >= call.maxNewTokens) break;
            sampled.push(id);
            if (id === tokenizer.eosTokenId) break;
            if (call.stop.some((s) => tokenizer.decode(sampled).includes(s))) break;
          }
          expected.push({ ids: sampled, mask: 1 });
          const action = parseAction(tokenizer.decode(sampled, { skipSpecialTokens: true }));
          const last = turn === trajectory.turns - 1;
          if (action.type === 'search' && !last) {
            const hits = (await reference.search([action.query], 3))[0]!;
            expected.push({ ids: tokenizer.encode(informationBlock(hits)).slice(0, maxObsTokens), mask: 0 });
            expect(trajectory.searches[searches++]?.query).toBe(action.query);
          } else if (action.type === 'invalid' && !last) {
            expected.push({ ids: tokenizer.encode(INVALID_ACTION_MESSAGE), mask: 0 });
          }
          if (action.type === 'answer') expect(trajectory.answer).toBe(action.answer);
        }
        expect(searches).toBe(trajectory.searches.length);
        expect(trajectory.responseTokenIds).toEqual(expected.flatMap((part) => part.ids));
        expect(Array.from(trajectory.sampledMask)).toEqual(
          expected.flatMap((part) => part.ids.map(() => part.mask)),
        );
        const inserted = Array.from(trajectory.logProbs).filter((_, i) => trajectory.sampledMask[i] === 0);
        expect(inserted.every((lp) => lp === 0)).toBe(true);
        expect(['answer', 'max-turns']).toContain(trajectory.finishReason);
      }
    });
  }
});
