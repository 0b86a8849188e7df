import { describe, expect, it } from 'vitest';
import { runAsyncRollout } from './async-rollout.js';
import { encodePrompt } from './prompt.js';
import { type RolloutConfig, type RolloutEvent, runRollout, type Trajectory } from './rollout.js';
import { sessionsFromGenerator } from './session-generator.js';
import { InMemoryRetriever } from './testing/in-memory-retriever.js';
import { PieceTokenizer } from './testing/piece-tokenizer.js';
import { ScriptedGenerator, type ScriptedTurn } from './testing/scripted-generator.js';
import { TeacherForcedGenerator } from './testing/teacher-forced-generator.js';
import type { Generator, SessionGenerator } from './types.js';

const tokenizer = new PieceTokenizer();

const SCRIPTS: Record<string, readonly ScriptedTurn[]> = {
  // search, then answer
  a: [
    '<think>need the date</think>\n<search> last moon landing </search>',
    '<answer> December 1972 </answer>',
  ],
  // answers at once
  b: ['<think>easy</think><answer>Paris</answer>'],
  // an invalid turn, two searches, then the final round without search
  c: ['I am not sure.', '<search>Beatles</search>', '<search> moon </search>', 'still thinking', 'no action'],
  // runs out of response budget in its second turn
  d: ['<search>moon</search>', 'x'.repeat(400)],
  // a turn that runs past a stop string with the merged token, then an answer
  e: ['<search>moon</search>\n\n', '<answer>1972</answer>'],
};

function prompts() {
  return Object.keys(SCRIPTS).map((id) => ({
    id,
    promptTokenIds: encodePrompt(`question ${id}`, tokenizer),
  }));
}

/** The prompts a generator saw, per key, turn by turn. */
function contexts(generator: ScriptedGenerator): Map<string, number[][]> {
  const seen = new Map<string, number[][]>();
  for (const call of generator.calls) {
    call.keys.forEach((key, i) => {
      seen.set(key, [...(seen.get(key) ?? []), [...call.prompts[i]!]]);
    });
  }
  return seen;
}

async function both(
  makeGenerator: () => Generator,
  config: Partial<RolloutConfig>,
): Promise<{
  lockStep: Trajectory[];
  asynchronous: Trajectory[];
  events: RolloutEvent[];
  generators: [Generator, Generator];
}> {
  const lockGenerator = makeGenerator();
  const asyncGenerator = makeGenerator();
  const lockStep = await runRollout(prompts(), {
    generator: lockGenerator,
    retriever: new InMemoryRetriever(),
    tokenizer,
    config,
  });
  const events: RolloutEvent[] = [];
  const asynchronous = await runAsyncRollout(prompts(), {
    sessions: sessionsFromGenerator(asyncGenerator),
    retriever: new InMemoryRetriever(),
    tokenizer,
    config,
    onEvent: (event) => events.push(event),
  });
  return { lockStep, asynchronous, events, generators: [lockGenerator, asyncGenerator] };
}

describe('runAsyncRollout makes the lock-step trajectories', () => {
  it('with the scripted generator: tokens, masks, log-probs, searches, finish reasons', async () => {
    const config = { maxTurns: 3, maxResponseTokens: 600, maxObsTokens: 120, seed: 5 };
    const { lockStep, asynchronous, events, generators } = await both(
      () => new ScriptedGenerator({ scripts: SCRIPTS, tokenizer }),
      config,
    );
    expect(asynchronous).toEqual(lockStep);
    // each turn was conditioned on the same context: prompt, sampled and inserted tokens
    const [lockGenerator, asyncGenerator] = generators as [ScriptedGenerator, ScriptedGenerator];
    expect(contexts(asyncGenerator)).toEqual(contexts(lockGenerator));
    expect(asyncGenerator.calls.map((call) => call.seed).sort()).toEqual(
      lockGenerator.calls.flatMap((call) => call.keys.map(() => call.seed)).sort(),
    );
    // the cases the scripts meant to cover really happened
    const byId = new Map(lockStep.map((trajectory) => [trajectory.id, trajectory]));
    expect(byId.get('a')!.finishReason).toBe('answer');
    expect(byId.get('c')!.finishReason).toBe('max-turns');
    expect(byId.get('c')!.searches).toHaveLength(2);
    expect(byId.get('c')!.invalidActions).toBe(1);
    expect(byId.get('d')!.finishReason).toBe('length');
    expect(byId.get('a')!.sampledMask.includes(0)).toBe(true);
    // every trajectory ends once, with the reason it has
    const ends = events.filter((event) => event.type === 'trajectory-end');
    expect(ends.map((event) => event.trajectoryId).sort()).toEqual(Object.keys(SCRIPTS).sort());
  });

  it('when the context outgrows maxPromptTokens (a fresh session on the left-cut context)', async () => {
    const config = { maxTurns: 3, maxPromptTokens: 120, seed: 1 };
    const lockGenerator = new ScriptedGenerator({ scripts: SCRIPTS, tokenizer });
    const asyncGenerator = new ScriptedGenerator({ scripts: SCRIPTS, tokenizer });
    const lockStep = await runRollout(prompts(), {
      generator: lockGenerator,
      retriever: new InMemoryRetriever(),
      tokenizer,
      config,
    });
    const asynchronous = await runAsyncRollout(prompts(), {
      sessions: sessionsFromGenerator(asyncGenerator),
      retriever: new InMemoryRetriever(),
      tokenizer,
      config,
    });
    expect(asynchronous).toEqual(lockStep);
    // the generator saw the same (cut) contexts, key by key and turn by turn
    expect(contexts(asyncGenerator)).toEqual(contexts(lockGenerator));
    expect([...contexts(lockGenerator).values()].flat().some((context) => context.length === 120)).toBe(true);
  });

  it('with the teacher-forced generator (forced searches scored, the rest sampled)', async () => {
    const make = () =>
      new TeacherForcedGenerator({
        inner: new ScriptedGenerator({ scripts: SCRIPTS, tokenizer }),
        tokenizer,
        force: (key, turn) => (turn === 0 && key !== 'b' ? `<search> ${key} moon </search>` : undefined),
        score: async (contexts, continuations) =>
          continuations.map((ids, i) => ids.map((id, j) => -((id + contexts[i]!.length + j) % 11) / 7)),
      });
    const { lockStep, asynchronous } = await both(make, { maxTurns: 2, seed: 3 });
    expect(asynchronous).toEqual(lockStep);
    expect(lockStep.filter((trajectory) => trajectory.searches.length > 0)).toHaveLength(4);
  });
});

describe('runAsyncRollout: each trajectory on its own', () => {
  it('a trajectory searches and resumes while another is still generating its first turn', async () => {
    const inner = sessionsFromGenerator(new ScriptedGenerator({ scripts: SCRIPTS, tokenizer }));
    const events: RolloutEvent[] = [];
    let releaseSlow: () => void = () => {};
    const slowMayFinish = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    // b's first turn is held back until a has searched and started its second turn: a lock-step
    // round would wait for b, and never get there.
    const sessions: SessionGenerator = {
      async start(request) {
        if (request.key === 'b') await slowMayFinish;
        return inner.start(request);
      },
      async continue(session, appended, request) {
        releaseSlow();
        return inner.continue(session, appended, request);
      },
      release: (session) => inner.release(session),
    };
    const two = prompts().filter((prompt) => prompt.id === 'a' || prompt.id === 'b');
    const retriever = new InMemoryRetriever();
    const trajectories = await runAsyncRollout(two, {
      sessions,
      retriever,
      tokenizer,
      onEvent: (event) => events.push(event),
    });
    const order = events
      .filter((event) => event.type !== 'generation-delta')
      .map((event) => `${event.type}:${event.trajectoryId}`);
    expect(order.indexOf('search-end:a')).toBeLessThan(order.indexOf('answer-end:b'));
    expect(trajectories.map((trajectory) => trajectory.answer)).toEqual(['December 1972', 'Paris']);
    expect(retriever.calls).toEqual([{ queries: ['last moon landing'], topk: 3 }]);
  });

  it('searches issued together go to the retriever in one call', async () => {
    const scripts = {
      p: ['<search>moon</search>', '<answer>a</answer>'],
      q: ['<search>Beatles</search>', '<answer>b</answer>'],
    };
    const retriever = new InMemoryRetriever();
    await runAsyncRollout(
      Object.keys(scripts).map((id) => ({ id, promptTokenIds: encodePrompt(id, tokenizer) })),
      {
        sessions: sessionsFromGenerator(new ScriptedGenerator({ scripts, tokenizer })),
        retriever,
        tokenizer,
      },
    );
    expect(retriever.calls).toEqual([{ queries: ['moon', 'Beatles'], topk: 3 }]);
  });
});
