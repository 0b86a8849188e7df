import { describe, expect, it } from 'vitest';
import { GeneratorContractError, RolloutInputError } from './errors.js';
import { encodePrompt } from './prompt.js';
import { INVALID_ACTION_MESSAGE, informationBlock } from './protocol.js';
import { type RolloutEvent, type RolloutOptions, runRollout, type Trajectory } from './rollout.js';
import { InMemoryRetriever } from './testing/in-memory-retriever.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';
import { ScriptedGenerator, type ScriptedTurn, scriptedLogProb } from './testing/scripted-generator.js';
import type { GenerationResult, Generator } from './types.js';

const tokenizer = new PieceTokenizer();

function setup(
  scripts: Record<string, readonly ScriptedTurn[]>,
  config: RolloutOptions['config'] = {},
  stream = false,
) {
  const generator = new ScriptedGenerator({ scripts, tokenizer, stream });
  const retriever = new InMemoryRetriever();
  const events: RolloutEvent[] = [];
  const prompts = Object.keys(scripts).map((id) => ({
    id,
    promptTokenIds: encodePrompt(`question ${id}`, tokenizer),
  }));
  const run = () =>
    runRollout(prompts, { generator, retriever, tokenizer, config, onEvent: (event) => events.push(event) });
  return { generator, retriever, events, prompts, run };
}

/** The runs of equal mask value, as [mask, tokenIds] pairs. */
function maskRuns(trajectory: Trajectory): [number, number[]][] {
  const runs: [number, number[]][] = [];
  trajectory.sampledMask.forEach((m, i) => {
    const last = runs[runs.length - 1];
    if (last !== undefined && last[0] === m) last[1].push(trajectory.responseTokenIds[i]!);
    else runs.push([m, [trajectory.responseTokenIds[i]!]]);
  });
  return runs;
}

describe('runRollout: one trajectory, search then answer', () => {
  it('produces sampled tokens with mask 1 and exactly the information block with mask 0', async () => {
    const turn1 = '<think>I need the date.</think>\n<search> last moon landing </search>';
    const turn2 = '<think>It was 1972.</think>\n<answer> December 1972 </answer>';
    const { retriever, run } = setup({ q1: [turn1, turn2] });
    const [trajectory] = await run();
    const hits = (await retriever.search(['last moon landing'], 3))[0]!;
    expect(hits[0]?.id).toBe('0'); // the "Moon landing" passage
    const block = informationBlock(hits);

    const gen1 = tokenizer.encode(turn1);
    const gen2 = tokenizer.encode(turn2);
    const obs = tokenizer.encode(block);
    expect(trajectory!.responseTokenIds).toEqual([...gen1, ...obs, ...gen2]);
    expect(Array.from(trajectory!.sampledMask)).toEqual([
      ...gen1.map(() => 1),
      ...obs.map(() => 0),
      ...gen2.map(() => 1),
    ]);
    expect(trajectory!.text).toBe(turn1 + block + turn2);
    expect(trajectory!.answer).toBe('December 1972');
    expect(trajectory!.finishReason).toBe('answer');
    expect(trajectory!.turns).toBe(2);
    expect(trajectory!.invalidActions).toBe(0);
    expect(trajectory!.tokenExact).toBe(true);
    expect(trajectory!.searches).toEqual([
      {
        turn: 0,
        query: 'last moon landing',
        documents: hits.map((hit) => ({ id: hit.id, score: hit.score })),
      },
    ]);
    // log-probs: the generator's, position by position; 0 under inserted tokens
    const expected = [
      ...gen1.map((id, p) => scriptedLogProb(id, p)),
      ...obs.map(() => 0),
      ...gen2.map((id, p) => scriptedLogProb(id, p)),
    ];
    expect(Array.from(trajectory!.logProbs)).toEqual(expected);
  });

  it('feeds the next round the running context as token ids (prompt + sampled + inserted)', async () => {
    const { generator, prompts, run } = setup({ q1: ['<search>moon</search>', '<answer>x</answer>'] });
    const [trajectory] = await run();
    expect(generator.calls).toHaveLength(2);
    expect(generator.calls[0]!.prompts[0]).toEqual(prompts[0]!.promptTokenIds);
    const firstObsEnd = trajectory!.sampledMask.lastIndexOf(0) + 1;
    expect(generator.calls[1]!.prompts[0]).toEqual([
      ...prompts[0]!.promptTokenIds,
      ...trajectory!.responseTokenIds.slice(0, firstObsEnd),
    ]);
    expect(generator.calls[0]!.stop).toEqual(['</search>', '</answer>']);
    expect(generator.calls[0]!.maxNewTokens).toBe(500);
  });
});

describe('runRollout: the token boundary where an inserted block begins', () => {
  it('keeps `</search>` as sampled and tokenises the block on its own (not the merged re-tokenisation)', async () => {
    const turn1 = '<search>moon</search>';
    const { run } = setup({ q1: [turn1, '<answer>x</answer>'] });
    const [trajectory] = await run();
    const searchClose = tokenizer.encode('</search>')[0]!;
    const merged = tokenizer.encode('</search>\n\n')[0]!;
    expect(tokenizer.encode('</search>\n\n')).toHaveLength(1); // the tokenizer merges across the boundary
    const boundary = trajectory!.sampledMask.indexOf(0);
    expect(trajectory!.responseTokenIds[boundary - 1]).toBe(searchClose); // last sampled token
    expect(trajectory!.sampledMask[boundary - 1]).toBe(1);
    expect(
      tokenizer.decode(trajectory!.responseTokenIds.slice(boundary)).startsWith('\n\n<information>'),
    ).toBe(true);
    // Re-encoding the text would put the merged token across the mask edge: the rollout must not.
    const reencoded = tokenizer.encode(trajectory!.text);
    expect(reencoded).toContain(merged);
    expect(trajectory!.responseTokenIds).not.toContain(merged);
    expect(reencoded).not.toEqual(trajectory!.responseTokenIds);
    expect(tokenizer.decode(trajectory!.responseTokenIds)).toBe(trajectory!.text);
  });

  it('keeps a sampled token that runs past `</search>` whole, with mask 1', async () => {
    // The policy samples the merged token `</search>\n\n`: generation stops after it, and it stays.
    const { run } = setup({ q1: ['<search>moon</search>\n\nignored', '<answer>x</answer>'] });
    const [trajectory] = await run();
    const merged = tokenizer.encode('</search>\n\n')[0]!;
    const boundary = trajectory!.sampledMask.indexOf(0);
    expect(trajectory!.responseTokenIds[boundary - 1]).toBe(merged);
    expect(trajectory!.text).toContain('<search>moon</search>\n\n\n\n<information>');
    expect(trajectory!.text).not.toContain('ignored');
  });
});

describe('runRollout: batching, invalid actions, limits', () => {
  it('generates for all active trajectories in one call and sends every search of a round in one batch', async () => {
    const { generator, retriever, run } = setup({
      a: ['<search>moon landing</search>', '<answer>1972</answer>'],
      b: ['<answer>Bobby Scott</answer>'],
      c: ['<search>isle of wight</search>', '<search>ice age</search>', '<answer>Ice Age</answer>'],
    });
    const trajectories = await run();
    expect(generator.calls.map((call) => call.keys)).toEqual([['a', 'b', 'c'], ['a', 'c'], ['c']]);
    expect(retriever.calls).toEqual([
      { queries: ['moon landing', 'isle of wight'], topk: 3 },
      { queries: ['ice age'], topk: 3 },
    ]);
    expect(trajectories.map((t) => [t.id, t.answer, t.turns, t.searches.length])).toEqual([
      ['a', '1972', 2, 1],
      ['b', 'Bobby Scott', 1, 0],
      ['c', 'Ice Age', 3, 2],
    ]);
    expect(Array.from(trajectories[1]!.sampledMask).every((m) => m === 1)).toBe(true);
  });

  it('appends the invalid-action message with mask 0 when no action parses (EOS included) and continues', async () => {
    const { run } = setup({ q: ['<think>no action here</think>', '<answer>ok</answer>'] });
    const [trajectory] = await run();
    const gen1 = tokenizer.encode('<think>no action here</think>');
    const message = tokenizer.encode(INVALID_ACTION_MESSAGE);
    const eos = tokenizer.eosTokenIds[0]!;
    // the script ran out, so the first turn ended with EOS (sampled, trained on)
    expect(maskRuns(trajectory!)).toEqual([
      [1, [...gen1, eos]],
      [0, message],
      [1, tokenizer.encode('<answer>ok</answer>')],
    ]);
    expect(trajectory!.invalidActions).toBe(1);
    expect(trajectory!.text).toBe(
      `<think>no action here</think>${INVALID_ACTION_MESSAGE}<answer>ok</answer>`,
    );
  });

  it('runs at most maxTurns rounds with search, then a final round whose search is not executed', async () => {
    const search = '<search>moon</search>';
    const { generator, retriever, run } = setup({ q: [search, search, search, search] }, { maxTurns: 2 });
    const [trajectory] = await run();
    expect(generator.calls).toHaveLength(3);
    expect(retriever.calls).toHaveLength(2);
    expect(trajectory!.finishReason).toBe('max-turns');
    expect(trajectory!.answer).toBeNull();
    expect(trajectory!.turns).toBe(3);
    // the response ends with the final round's sampled tokens, nothing inserted after them
    const runs = maskRuns(trajectory!);
    expect(runs.map(([m]) => m)).toEqual([1, 0, 1, 0, 1]);
    expect(runs[4]![1]).toEqual(tokenizer.encode(search));
  });

  it('cuts observations to maxObsTokens', async () => {
    const { run } = setup(
      { q: ['<search>moon landing united states</search>', '<answer>x</answer>'] },
      { maxObsTokens: 10 },
    );
    const [trajectory] = await run();
    const runs = maskRuns(trajectory!);
    expect(runs[1]![0]).toBe(0);
    expect(runs[1]![1]).toHaveLength(10);
    expect(trajectory!.text).toContain(tokenizer.decode(runs[1]![1]));
    expect(trajectory!.text).not.toContain('</information>');
  });

  it('cuts the prompt to maxStartTokens and the running context to maxPromptTokens, from the left', async () => {
    const { generator, prompts, run } = setup(
      { q: ['<search>moon</search>', '<answer>x</answer>'] },
      { maxStartTokens: 50, maxPromptTokens: 120 },
    );
    const [trajectory] = await run();
    const full = prompts[0]!.promptTokenIds;
    expect(trajectory!.promptTokenIds).toEqual(full.slice(-50));
    expect(generator.calls[0]!.prompts[0]).toEqual(full.slice(-50));
    const firstObsEnd = trajectory!.sampledMask.lastIndexOf(0) + 1;
    const context = [...full.slice(-50), ...trajectory!.responseTokenIds.slice(0, firstObsEnd)];
    expect(context.length).toBeGreaterThan(120);
    expect(generator.calls[1]!.prompts[0]).toEqual(context.slice(-120));
  });

  it('stops a trajectory at maxResponseTokens with finish reason length', async () => {
    const { run } = setup({ q: ['<search>moon</search>', '<answer>x</answer>'] }, { maxResponseTokens: 30 });
    const [trajectory] = await run();
    expect(trajectory!.responseTokenIds).toHaveLength(30);
    expect(trajectory!.sampledMask).toHaveLength(30);
    expect(trajectory!.logProbs).toHaveLength(30);
    expect(trajectory!.finishReason).toBe('length');
    expect(tokenizer.decode(trajectory!.responseTokenIds)).toBe(trajectory!.text);
  });

  it('stops a turn at maxTokensPerTurn', async () => {
    const { generator, run } = setup(
      { q: ['<think>a long thought</think>', '<answer>y</answer>'] },
      { maxTokensPerTurn: 5 },
    );
    const [trajectory] = await run();
    expect(generator.calls[0]!.maxNewTokens).toBe(5);
    expect(maskRuns(trajectory!)[0]).toEqual([
      1,
      tokenizer.encode('<think>a long thought</think>').slice(0, 5),
    ]);
    expect(trajectory!.invalidActions).toBe(1);
  });
});

describe('runRollout: masks cover exactly the inserted tokens', () => {
  it('on a mixed batch, every mask-0 run is an information block or the invalid message, and every mask-1 run a turn', async () => {
    const scripts: Record<string, ScriptedTurn[]> = {
      a: [
        '<search>hot coffee</search>',
        'nothing',
        '<search>san andreas</search>\n\nmore',
        '<answer>mini-game</answer>',
      ],
      b: ['<search>802.11a data rate</search>', '<search>central india state</search>', '<search>x</search>'],
      c: ['bad', 'bad', 'bad', 'bad', 'bad'],
      d: ['<answer>one</answer>'],
    };
    const { retriever, run } = setup(scripts, { maxTurns: 3, maxObsTokens: 5000 });
    const trajectories = await run();
    const blocks = new Map<string, string>();
    for (const call of retriever.calls) {
      const results = await new InMemoryRetriever().search(call.queries, call.topk);
      call.queries.forEach((query, i) => {
        blocks.set(query, informationBlock(results[i]!));
      });
    }
    for (const trajectory of trajectories) {
      const inserted = maskRuns(trajectory)
        .filter(([m]) => m === 0)
        .map(([, ids]) => ids);
      const expected = [
        ...trajectory.searches.map((search) => ({
          turn: search.turn,
          ids: tokenizer.encode(blocks.get(search.query)!),
        })),
      ];
      // Every inserted run is either the encoding of the block for a recorded search or the invalid message.
      const message = tokenizer.encode(INVALID_ACTION_MESSAGE);
      expect(inserted).toHaveLength(trajectory.searches.length + trajectory.invalidActions);
      let searchIndex = 0;
      for (const ids of inserted) {
        if (JSON.stringify(ids) === JSON.stringify(message)) continue;
        expect(ids).toEqual(expected[searchIndex++]!.ids);
      }
      expect(searchIndex).toBe(trajectory.searches.length);
      // and the whole response decodes to the text (EOS tokens, sampled and kept, decode to nothing)
      expect(tokenizer.decode(trajectory.responseTokenIds, { skipSpecialTokens: true })).toBe(
        trajectory.text,
      );
    }
    expect(trajectories.map((t) => t.finishReason)).toEqual(['answer', 'max-turns', 'max-turns', 'answer']);
    expect(trajectories[2]!.invalidActions).toBe(3);
  });
});

describe('runRollout: events', () => {
  it('reports generation deltas, searches and answers in order; deltas concatenate to the sampled text', async () => {
    for (const stream of [false, true]) {
      const { events, run } = setup({ q: ['<search>moon</search>', '<answer>1972</answer>'] }, {}, stream);
      const [trajectory] = await run();
      const types = events
        .map((event) => event.type)
        .filter((type, i, all) => type !== 'generation-delta' || all[i - 1] !== type);
      expect(types).toEqual([
        'generation-delta',
        'search-start',
        'search-end',
        'generation-delta',
        'answer-end',
        'trajectory-end',
      ]);
      const generated = events
        .flatMap((event) => (event.type === 'generation-delta' ? [event.text] : []))
        .join('');
      expect(generated).toBe('<search>moon</search><answer>1972</answer>');
      const end = events.find((event) => event.type === 'search-end');
      expect(end?.type === 'search-end' && end.hits.map((hit) => hit.id)).toEqual(
        trajectory!.searches[0]!.documents.map((d) => d.id),
      );
      expect(events.find((event) => event.type === 'answer-end')).toMatchObject({
        trajectoryId: 'q',
        turn: 1,
        answer: '1972',
      });
    }
  });
});

describe('runRollout: contracts and input errors', () => {
  const prompts = [{ id: 'q', promptTokenIds: [1, 2, 3] }];
  const retriever = new InMemoryRetriever();

  it('fails loudly when the generator returns the wrong number of results or misaligned log-probs', async () => {
    const none: Generator = { generate: async () => [] };
    await expect(runRollout(prompts, { generator: none, retriever, tokenizer })).rejects.toThrow(
      GeneratorContractError,
    );
    const misaligned: Generator = {
      generate: async (): Promise<GenerationResult[]> => [
        { tokenIds: [1, 2], text: 'ab', logProbs: [0], finishReason: 'eos' },
      ],
    };
    await expect(runRollout(prompts, { generator: misaligned, retriever, tokenizer })).rejects.toThrow(
      /one log-prob per token/,
    );
  });

  it('marks trajectories whose tokens were re-encoded as not token-exact', async () => {
    const reencoded: Generator = {
      generate: async () => [
        { tokenIds: [65], text: 'A', logProbs: [-1], finishReason: 'stop', tokenExact: false },
      ],
    };
    const [trajectory] = await runRollout(prompts, {
      generator: reencoded,
      retriever,
      tokenizer,
      config: { maxTurns: 0 },
    });
    expect(trajectory!.tokenExact).toBe(false);
  });

  it('stops between rounds when its signal is aborted', async () => {
    const controller = new AbortController();
    const generator = new ScriptedGenerator({
      scripts: { q: ['<search>moon</search>', '<answer>x</answer>'] },
      tokenizer,
    });
    const run = runRollout(prompts, {
      generator,
      retriever,
      tokenizer,
      signal: controller.signal,
      onEvent: (event) => {
        if (event.type === 'search-end') controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(generator.calls).toHaveLength(1);
  });

  it('rejects bad config and duplicate ids with the field named', async () => {
    const generator = new ScriptedGenerator({ scripts: {}, tokenizer });
    await expect(
      runRollout(prompts, { generator, retriever, tokenizer, config: { maxTurns: -1 } }),
    ).rejects.toThrow(/field 'maxTurns'/);
    await expect(runRollout([...prompts, ...prompts], { generator, retriever, tokenizer })).rejects.toThrow(
      RolloutInputError,
    );
    await expect(
      runRollout([{ id: 'e', promptTokenIds: [] }], { generator, retriever, tokenizer }),
    ).rejects.toThrow(/prompts\[0\].promptTokenIds/);
  });
});
