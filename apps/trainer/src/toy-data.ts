// Demonstrations in the Search-R1 format over a toy world, for the SFT that makes the base policy:
// a seeded mix of good searches (the plan of a perfect agent), confident guesses without search
// and vague searches. The base learns the tags and how to read retrieved passages, but mostly
// does not search well — the analogue of a base LLM never trained to search.

import type { Rng } from '@sr1/core';
import {
  buildPrompt,
  informationBlock,
  type PromptOptions,
  type Retriever,
  type Tokenizer,
} from '@sr1/rollout';
import type { ToyQuestion, ToyWorld } from '@sr1/toy-world';
import type { Segment } from '@sr1/train';

export type DemonstrationStyle = 'plan' | 'direct' | 'vague';

/** Shares of each style in the base policy's SFT data. */
export interface StyleMix {
  plan: number; // searches the right subjects and answers from the passages
  direct: number; // answers at once with a plausible but unsupported guess
  vague: number; // searches a generic query and answers from whatever came back
}

export const BASE_POLICY_MIX: StyleMix = { plan: 0.3, direct: 0.4, vague: 0.3 };

const VAGUE_QUERIES = ['born', 'city', 'country', 'worked as', 'famous person'];

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function chooseStyle(mix: StyleMix, rng: Rng): DemonstrationStyle {
  const total = mix.plan + mix.direct + mix.vague;
  let u = rng.next() * total;
  for (const style of ['plan', 'direct', 'vague'] as const) {
    u -= mix[style];
    if (u < 0) return style;
  }
  return 'vague';
}

/** The fact sentence of a passage (its text after the title line). */
function passageText(contents: string): string {
  return contents.split('\n').slice(1).join(' ');
}

/** A guess of the right kind for the question, drawn from the world (almost always wrong). */
function guess(world: ToyWorld, question: ToyQuestion, rng: Rng): string {
  if (question.type === 'two-hop') return pick(rng, world.countries);
  if (question.type === 'comparison') return pick(rng, question.plan);
  if (question.question.startsWith('In which city')) return pick(rng, world.cities).name;
  if (question.question.startsWith('In which year')) return String(1700 + rng.int(300));
  return pick(rng, ['painter', 'farmer', 'sailor', 'teacher', 'doctor', 'baker']);
}

/**
 * One demonstration as loss segments: the prompt and every inserted `<information>` block carry
 * no loss; the agent's own text does. Retrieval is real (the world's index), so the demonstrated
 * information blocks are exactly what the rollout would insert.
 */
export async function demonstrate(
  world: ToyWorld,
  question: ToyQuestion,
  style: DemonstrationStyle,
  retriever: Retriever,
  tokenizer: Tokenizer,
  rng: Rng,
  prompt: PromptOptions,
  topk = 3,
): Promise<Segment[]> {
  const segments: Segment[] = [{ text: buildPrompt(question.question, tokenizer, prompt), loss: false }];
  const say = (text: string) => segments.push({ text, loss: true });
  const search = async (query: string): Promise<string> => {
    say(`<search> ${query} </search>`);
    const [hits = []] = await retriever.search([query], topk);
    segments.push({ text: informationBlock(hits), loss: false });
    return hits[0] === undefined ? '' : passageText(hits[0].contents);
  };
  const answer = question.golden_answers[0]!;
  if (style === 'direct') {
    say(`<think> I already know this. </think>\n<answer> ${guess(world, question, rng)} </answer>`);
    return segments;
  }
  if (style === 'vague') {
    say('<think> I should search for this. </think>\n');
    const found = await search(pick(rng, VAGUE_QUERIES));
    say(`<think> ${found} </think>\n<answer> ${guess(world, question, rng)} </answer>`);
    return segments;
  }
  // The plan: look up each subject in turn, restating the fact that matters.
  const [first, second] = question.plan;
  say(`<think> I need to find ${first}. </think>\n`);
  const firstFact = await search(first!);
  if (second === undefined) {
    say(`<think> ${firstFact} </think>\n<answer> ${answer} </answer>`);
    return segments;
  }
  say(`<think> ${firstFact} I need to find ${second}. </think>\n`);
  const secondFact = await search(second);
  say(`<think> ${secondFact} </think>\n<answer> ${answer} </answer>`);
  return segments;
}

/** Demonstrations for every question, styles drawn from `mix` with `rng`. */
export async function demonstrations(
  world: ToyWorld,
  questions: readonly ToyQuestion[],
  mix: StyleMix,
  retriever: Retriever,
  tokenizer: Tokenizer,
  rng: Rng,
  prompt: PromptOptions,
): Promise<{ segments: Segment[]; style: DemonstrationStyle; questionId: string }[]> {
  const out = [];
  for (const question of questions) {
    const style = chooseStyle(mix, rng);
    out.push({
      segments: await demonstrate(world, question, style, retriever, tokenizer, rng, prompt),
      style,
      questionId: question.id,
    });
  }
  return out;
}
