import { describe, expect, it } from 'vitest';
import { runAsyncRollout } from './async-rollout.js';
import { RolloutInputError } from './errors.js';
import {
  HERMES_INVALID_ACTION_MESSAGE,
  HERMES_STOP_STRINGS,
  hermesTurns,
  parseToolCall,
  TOOL_SCHEMAS,
} from './hermes.js';
import { buildPrompt, encodePrompt } from './prompt.js';
import { informationBlock } from './protocol.js';
import { type RolloutConfig, runRollout, type Trajectory } from './rollout.js';
import { sessionsFromGenerator } from './session-generator.js';
import { CHATML_EOS, CHATML_PIECES, qwenChatTemplate } from './testing/chat-template.js';
import { InMemoryRetriever } from './testing/in-memory-retriever.js';
import { DEFAULT_PIECES, PieceTokenizer } from './testing/piece-tokenizer.js';
import { ScriptedGenerator, type ScriptedTurn, scriptedLogProb } from './testing/scripted-generator.js';
import { searchUnavailableMessage } from './turn-format.js';

// A chat tokenizer: ChatML delimiters are single tokens, EOS is `<|im_end|>` (as in Qwen2.5).
const tokenizer = new PieceTokenizer([...DEFAULT_PIECES, ...CHATML_PIECES], {
  eosText: CHATML_EOS,
  chatTemplate: qwenChatTemplate,
});
const HERMES: Partial<RolloutConfig> = { toolFormat: 'hermes' };

const call = (name: string, args: Record<string, unknown>) =>
  `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

function setup(scripts: Record<string, readonly ScriptedTurn[]>, config: Partial<RolloutConfig> = HERMES) {
  const generator = new ScriptedGenerator({ scripts, tokenizer });
  const retriever = new InMemoryRetriever();
  const tools = config.tools ?? ['search'];
  const prompts = Object.keys(scripts).map((id) => ({
    id,
    promptTokenIds: encodePrompt(`question ${id}`, tokenizer, {
      template: 'search-r1-hermes',
      ...(config.toolFormat === 'hermes' ? { tools } : {}),
    }),
  }));
  const run = () => runRollout(prompts, { generator, retriever, tokenizer, config });
  return { generator, retriever, prompts, run };
}

const documents = (hits: { contents: string }[]) =>
  hits
    .map((hit, i) => {
      const lines = hit.contents.split('\n');
      return `Doc ${i + 1}(Title: ${lines[0]}) ${lines.slice(1).join('\n')}`;
    })
    .join('\n');

describe('parseToolCall', () => {
  it('reads the first tool call or answer, and names what is wrong with a bad call', () => {
    expect(parseToolCall(`<think>x</think>${call('search', { query: ' moon ' })}`, ['search'])).toEqual({
      type: 'search',
      query: 'moon',
    });
    // arguments as a JSON string, as OpenAI writes them
    expect(
      parseToolCall('<tool_call>{"name": "search", "arguments": "{\\"query\\": \\"q\\"}"}</tool_call>', [
        'search',
      ]),
    ).toEqual({ type: 'search', query: 'q' });
    expect(parseToolCall(call('open', { id: 'a.md#0' }), ['search', 'open'])).toEqual({
      type: 'open',
      id: 'a.md#0',
    });
    expect(parseToolCall('<answer> Paris </answer>', ['search'])).toEqual({
      type: 'answer',
      answer: 'Paris',
    });
    expect(
      parseToolCall('<tool_call>{"name": "search", "arguments": {"query": "q"</tool_call>', ['search']),
    ).toEqual({
      type: 'invalid',
      reason: 'the tool call is not JSON',
    });
    expect(parseToolCall(call('open', { id: 'x' }), ['search'])).toEqual({
      type: 'invalid',
      reason: 'unknown tool "open"; offered: search',
    });
    expect(parseToolCall(call('search', { q: 'x' }), ['search'])).toEqual({
      type: 'invalid',
      reason: 'search needs a non-empty "query"',
    });
    expect(parseToolCall('<tool_call>[1]</tool_call>', ['search']).type).toBe('invalid');
    expect(parseToolCall('just text', ['search'])).toEqual({
      type: 'invalid',
      reason: 'no <tool_call> or <answer>',
    });
  });
});

describe('hermesTurns', () => {
  it('splits the chat template into the turn end, the tool message and the user message', () => {
    const turns = hermesTurns(tokenizer, ['search']);
    expect(turns.assistantEnd).toBe('<|im_end|>\n');
    expect(turns.toolResponse('R')).toBe(
      '<|im_start|>user\n<tool_response>\nR\n</tool_response><|im_end|>\n<|im_start|>assistant\n',
    );
    expect(turns.userMessage('U')).toBe('<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n');
  });

  it('puts the tool schemas into the prompt through the template', () => {
    const prompt = buildPrompt('who?', tokenizer, {
      template: 'search-r1-hermes',
      tools: ['search', 'open'],
    });
    expect(prompt).toContain(
      `<tools>\n${JSON.stringify(TOOL_SCHEMAS.search)}\n${JSON.stringify(TOOL_SCHEMAS.open)}\n</tools>`,
    );
    expect(prompt.endsWith('Question: who?\n<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
  });

  it('refuses a tokenizer without a chat template, or one whose template ignores tools', () => {
    expect(() => hermesTurns(new PieceTokenizer(), ['search'])).toThrow(RolloutInputError);
    const ignoresTools = new PieceTokenizer(DEFAULT_PIECES, {
      chatTemplate: (messages, options) => qwenChatTemplate(messages, { ...options, tools: [] }),
    });
    expect(() => hermesTurns(ignoresTools, ['search'])).toThrow(/ignores them/);
    expect(() => buildPrompt('q', new PieceTokenizer(), { tools: ['search'] })).toThrow(RolloutInputError);
  });
});

describe('runRollout with toolFormat hermes (scripted policy)', () => {
  it('keeps the sampled tokens with mask 1 and inserts the tool message, tokenised on its own, with mask 0', async () => {
    const turn1 = `<think>I need the date.</think>\n${call('search', { query: 'last moon landing' })}`;
    const turn2 = '<think>It was 1972.</think>\n<answer> December 1972 </answer>';
    const { generator, retriever, prompts, run } = setup({ q1: [turn1, turn2] });
    const [trajectory] = await run();
    const hits = (await retriever.search(['last moon landing'], 3))[0]!;
    // The loop closes the assistant turn (the policy stopped at `</tool_call>`) and renders the result.
    const observation = `<|im_end|>\n${hermesTurns(tokenizer, ['search']).toolResponse(documents(hits))}`;
    expect(
      observation.startsWith('<|im_end|>\n<|im_start|>user\n<tool_response>\nDoc 1(Title: "Moon landing")'),
    ).toBe(true);

    const gen1 = tokenizer.encode(turn1);
    const gen2 = tokenizer.encode(turn2);
    const obs = tokenizer.encode(observation);
    expect(trajectory!.responseTokenIds).toEqual([...gen1, ...obs, ...gen2]);
    expect(Array.from(trajectory!.sampledMask)).toEqual([
      ...gen1.map(() => 1),
      ...obs.map(() => 0),
      ...gen2.map(() => 1),
    ]);
    expect(Array.from(trajectory!.logProbs)).toEqual([
      ...gen1.map((id, p) => scriptedLogProb(id, p)),
      ...obs.map(() => 0),
      ...gen2.map((id, p) => scriptedLogProb(id, p)),
    ]);
    expect(trajectory!.text).toBe(turn1 + observation + turn2);
    expect(trajectory!.answer).toBe('December 1972');
    expect(trajectory!.finishReason).toBe('answer');
    expect(trajectory!.invalidActions).toBe(0);
    expect(trajectory!.searches).toEqual([
      {
        turn: 0,
        query: 'last moon landing',
        documents: hits.map((hit) => ({ id: hit.id, score: hit.score })),
      },
    ]);
    // Generation stops at the tool call or the answer; the next round sees prompt + sampled + inserted.
    expect(generator.calls[0]!.stop).toEqual([...HERMES_STOP_STRINGS]);
    expect(generator.calls[1]!.prompts[0]).toEqual([...prompts[0]!.promptTokenIds, ...gen1, ...obs]);
    // The context is the conversation the chat template renders: a model sees what it was trained on.
    const context = tokenizer.decode([...prompts[0]!.promptTokenIds, ...gen1, ...obs]);
    const question = buildPrompt('question q1', undefined, {
      template: 'search-r1-hermes',
      chatTemplate: false,
    });
    expect(context).toBe(
      qwenChatTemplate(
        [
          { role: 'user', content: question },
          { role: 'assistant', content: turn1 },
          { role: 'tool', content: documents(hits) },
        ],
        { addGenerationPrompt: true, tools: [TOOL_SCHEMAS.search] },
      ),
    );
  });

  it('treats malformed JSON as an invalid action: a user message, masked, and the loop goes on', async () => {
    const bad = '<tool_call>\n{"name": "search", "arguments": {"query": "moon"}\n</tool_call>'; // one brace short
    const { retriever, run } = setup({ q1: [bad, '<answer>x</answer>'] });
    const [trajectory] = await run();
    const inserted = `<|im_end|>\n${hermesTurns(tokenizer, ['search']).userMessage(HERMES_INVALID_ACTION_MESSAGE)}`;
    const gen1 = tokenizer.encode(bad);
    expect(trajectory!.invalidActions).toBe(1);
    expect(retriever.calls).toHaveLength(0);
    expect(trajectory!.responseTokenIds.slice(0, gen1.length + tokenizer.encode(inserted).length)).toEqual([
      ...gen1,
      ...tokenizer.encode(inserted),
    ]);
    expect(trajectory!.text).toBe(`${bad}${inserted}<answer>x</answer>`);
    expect(trajectory!.answer).toBe('x');
  });

  it('does not close a turn twice when the policy sampled the end-of-turn token itself', async () => {
    // The script ends the turn with EOS (`<|im_end|>`): the sampled token stays, the insert starts after it.
    const { run } = setup({ q1: ['no action here', '<answer>x</answer>'] });
    const [trajectory] = await run();
    const sampled = [...tokenizer.encode('no action here'), tokenizer.eosTokenId];
    const user = `\n${hermesTurns(tokenizer, ['search']).userMessage(HERMES_INVALID_ACTION_MESSAGE)}`;
    expect(trajectory!.responseTokenIds.slice(0, sampled.length)).toEqual(sampled);
    expect(trajectory!.sampledMask[sampled.length - 1]).toBe(1);
    expect(tokenizer.decode(trajectory!.responseTokenIds.slice(sampled.length)).startsWith(user)).toBe(true);
    expect(tokenizer.decode(trajectory!.responseTokenIds)).toContain('here<|im_end|>\n<|im_start|>user\n');
  });

  it('cuts a long result to maxObsTokens inside the tool message, never its delimiters', async () => {
    const { run } = setup(
      { q1: [call('search', { query: 'moon' }), '<answer>x</answer>'] },
      { ...HERMES, maxObsTokens: 12 },
    );
    const [trajectory] = await run();
    const end = '\n</tool_response><|im_end|>\n<|im_start|>assistant\n';
    const content = trajectory!.text.split('<tool_response>\n')[1]!.split(end)[0]!;
    expect(tokenizer.encode(content)).toHaveLength(12);
    expect(trajectory!.text).toContain(`${content}${end}<answer>x</answer>`);
  });

  it('makes the same trajectories in the asynchronous loop', async () => {
    const scripts = {
      a: [call('search', { query: 'moon landing' }), '<answer> 1972 </answer>'],
      b: [
        'hmm',
        call('search', { query: 'Isle of Wight' }),
        call('search', { query: 'Solent' }),
        '<answer>ice</answer>',
      ],
    };
    const { prompts, run } = setup(scripts);
    const lockStep = await run();
    const asynchronous = await runAsyncRollout(prompts, {
      sessions: sessionsFromGenerator(new ScriptedGenerator({ scripts, tokenizer })),
      retriever: new InMemoryRetriever(),
      tokenizer,
      config: HERMES,
    });
    expect(asynchronous).toEqual(lockStep);
    expect(lockStep[1]!.searches).toHaveLength(2);
  });
});

describe('maxSearches: the search budget', () => {
  const refusedIn = (trajectory: Trajectory) => trajectory.text.includes(searchUnavailableMessage(1));

  it('tags: answers a search past the budget with an information block saying search is unavailable', async () => {
    const tagsTokenizer = new PieceTokenizer();
    const scripts = { q: ['<search>moon</search>', '<search>Beatles</search>', '<answer>x</answer>'] };
    const generator = new ScriptedGenerator({ scripts, tokenizer: tagsTokenizer });
    const retriever = new InMemoryRetriever();
    const [trajectory] = await runRollout([{ id: 'q', promptTokenIds: encodePrompt('q', tagsTokenizer) }], {
      generator,
      retriever,
      tokenizer: tagsTokenizer,
      config: { maxSearches: 1 },
    });
    expect(retriever.calls.map((c) => c.queries)).toEqual([['moon']]);
    expect(trajectory!.searches.map((s) => s.query)).toEqual(['moon']);
    expect(trajectory!.searchesRefused).toBe(1);
    expect(trajectory!.invalidActions).toBe(0);
    const refusal = `\n\n<information>${searchUnavailableMessage(1)}</information>\n\n`;
    const hits = (await retriever.search(['moon'], 3))[0]!;
    expect(trajectory!.text).toBe(
      `<search>moon</search>${informationBlock(hits)}<search>Beatles</search>${refusal}<answer>x</answer>`,
    );
    // the refusal is inserted text: mask 0
    const refusalIds = tagsTokenizer.encode(refusal);
    const at =
      trajectory!.responseTokenIds.length -
      tagsTokenizer.encode('<answer>x</answer>').length -
      refusalIds.length;
    expect(trajectory!.responseTokenIds.slice(at, at + refusalIds.length)).toEqual(refusalIds);
    expect(Array.from(trajectory!.sampledMask.slice(at, at + refusalIds.length))).toEqual(
      refusalIds.map(() => 0),
    );
  });

  it('hermes: the refusal is a tool message; a budget of 0 refuses every search', async () => {
    const { retriever, run } = setup(
      { q: [call('search', { query: 'moon' }), call('search', { query: 'moon' }), '<answer>x</answer>'] },
      { ...HERMES, maxSearches: 1 },
    );
    const [trajectory] = await run();
    expect(retriever.calls).toHaveLength(1);
    expect(trajectory!.searchesRefused).toBe(1);
    expect(refusedIn(trajectory!)).toBe(true);
    expect(trajectory!.text).toContain(`<tool_response>\n${searchUnavailableMessage(1)}\n</tool_response>`);

    const none = setup(
      { q: [call('search', { query: 'moon' }), '<answer>x</answer>'] },
      { ...HERMES, maxSearches: 0 },
    );
    const [refused] = await none.run();
    expect(none.retriever.calls).toHaveLength(0);
    expect(refused!.searches).toEqual([]);
    expect(refused!.searchesRefused).toBe(1);
  });

  it('rejects a budget that is not null or a non-negative integer', async () => {
    for (const maxSearches of [-1, 1.5, Number.POSITIVE_INFINITY]) {
      await expect(setup({ q: ['x'] }, { maxSearches }).run()).rejects.toThrow(RolloutInputError);
    }
  });
});

describe('the open tool and the sources of a trajectory', () => {
  it('opens a document by passage id as a tool message, and records it', async () => {
    const config: Partial<RolloutConfig> = { ...HERMES, tools: ['search', 'open'], maxObsTokens: 4000 };
    const { retriever, run } = setup(
      {
        q: [
          call('search', { query: 'last moon landing' }),
          call('open', { id: '9' }),
          call('open', { id: 'nope' }),
          '<answer> Apollo 17 </answer>',
        ],
      },
      config,
    );
    const [trajectory] = await run();
    expect(retriever.openCalls).toEqual([['9'], ['nope']]);
    expect(trajectory!.opens).toEqual([
      { turn: 1, id: '9', found: true },
      { turn: 2, id: 'nope', found: false },
    ]);
    const [actor] = await retriever.open(['9']);
    expect(trajectory!.text).toContain(
      `<tool_response>\nTitle: Michael Moriarty\n${actor!.text}\n</tool_response>`,
    );
    expect(trajectory!.text).toContain("<tool_response>\nNo document with id 'nope'.\n</tool_response>");
    // search results carry the ids the open tool takes
    expect(trajectory!.text).toContain('Doc 1 [id: 0](Title: "Moon landing")');
    expect(trajectory!.sources.at(-1)).toEqual({
      id: '9',
      title: 'Michael Moriarty',
      turn: 1,
      via: 'open',
      containsAnswer: false,
    });
  });

  it('lists every passage read once, first turn first, marking the ones that contain the answer', async () => {
    const { retriever, run } = setup({
      q: [
        call('search', { query: 'last moon landing' }),
        call('search', { query: 'moon' }),
        '<answer> December 1972 </answer>',
      ],
    });
    const [trajectory] = await run();
    const first = (await retriever.search(['last moon landing'], 3))[0]!;
    const second = (await retriever.search(['moon'], 3))[0]!;
    const ids = [...new Set([...first, ...second].map((hit) => hit.id))];
    expect(trajectory!.sources.map((source) => source.id)).toEqual(ids);
    for (const source of trajectory!.sources) {
      const hit = [...first, ...second].find((candidate) => candidate.id === source.id)!;
      expect(source.turn).toBe(first.includes(hit) ? 0 : 1);
      expect(source.containsAnswer).toBe(/December 1972/.test(hit.contents));
    }
    expect(trajectory!.sources.some((source) => source.containsAnswer)).toBe(true);
  });

  it("refuses 'open' in the tag format, or with a retriever that cannot open", async () => {
    await expect(setup({ q: ['x'] }, { tools: ['search', 'open'] }).run()).rejects.toThrow(
      /needs toolFormat 'hermes'/,
    );
    const { prompts } = setup({ q: ['x'] });
    const generator = new ScriptedGenerator({ scripts: { q: ['x'] }, tokenizer });
    const searchOnly = {
      search: (queries: readonly string[], topk: number) => new InMemoryRetriever().search(queries, topk),
    };
    await expect(
      runRollout(prompts, {
        generator,
        retriever: searchOnly,
        tokenizer,
        config: { ...HERMES, tools: ['search', 'open'] },
      }),
    ).rejects.toThrow(/retriever with open/);
  });
});
