// Demonstrations in the Search-R1 format over a toy world, for the SFT that makes the base policy:
// a seeded mix of good searches (the plan of a perfect agent), confident guesses without search,
// vague searches, and reading passages handed over with the question. The base learns the tags
// and how to read passages, but mostly does not search — the analogue of a base LLM never
// trained to search.

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

export type DemonstrationStyle = 'plan' | 'direct' | 'vague' | 'read' | 'recall';

/** Shares of each style in the base policy's SFT data. */
export interface StyleMix {
  plan: number; // searches the right subjects and answers from the passages
  direct: number; // answers at once with a plausible but unsupported guess
  vague: number; // searches a generic query and answers from whatever came back
  read: number; // reads passages handed over with the question (no search), as in RAG
}

/**
 * Guessing is the most common style, so the greedy base policy answers without searching; reading
 * (plan and read styles together, half the data) is common enough that the policy can copy a fact
 * out of a passage — the skills a pretrained LLM brings to Search-R1, minus the habit of searching.
 */
export const BASE_POLICY_MIX: StyleMix = { plan: 0.3, direct: 0.35, vague: 0.15, read: 0.2 };

const STYLES = ['plan', 'direct', 'vague', 'read'] as const;

/**
 * Shares of each style for a fact about a well-known person (`make-base --famous N`): half the
 * time answered at once and correctly, as a fact the model knows ('recall', the same words as a
 * guess), half the time looked up (the plan). The greedy base policy may do either; a search cost
 * in RL should leave it answering what it knows and searching what it does not.
 */
export const KNOWN_FACT_MIX = { recall: 0.5, plan: 0.5 } as const;

const VAGUE_QUERIES = ['born', 'city', 'country', 'worked as', 'famous person'];

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function chooseStyle(mix: StyleMix, rng: Rng): DemonstrationStyle {
  const total = STYLES.reduce((sum, style) => sum + mix[style], 0);
  let u = rng.next() * total;
  for (const style of STYLES) {
    u -= mix[style];
    if (u < 0) return style;
  }
  return 'direct';
}

/** The title of a passage (its quoted first line). */
function passageTitle(contents: string): string {
  return (contents.split('\n')[0] ?? '').replace(/^"|"$/g, '');
}

/** The sentences of a passage's text (after the title line). */
function passageSentences(contents: string): string[] {
  const text = contents.split('\n').slice(1).join(' ');
  return text.match(/[^.]+\./g)?.map((sentence) => sentence.trim()) ?? [];
}

/**
 * The sentence a reader restates in its <think>: from the passage titled `subject` (else the top
 * hit), the first sentence containing `needle` (else its first sentence). Short restatements keep
 * the copying a small model must learn short.
 */
function restate(hits: readonly { contents: string }[], subject: string | undefined, needle: string): string {
  const passage = hits.find((hit) => passageTitle(hit.contents) === subject) ?? hits[0];
  if (passage === undefined) return 'Nothing was found.';
  const sentences = passageSentences(passage.contents);
  return sentences.find((sentence) => sentence.includes(needle)) ?? sentences[0] ?? 'Nothing was found.';
}

/** The word that marks the sentence holding the answer to a single-hop question. */
function answerNeedle(question: ToyQuestion): string {
  return question.question.startsWith('What was the occupation') ? 'worked' : 'born';
}

/** A guess of the right kind for the question, drawn from the world (almost always wrong). */
function guess(world: ToyWorld, question: ToyQuestion, rng: Rng): string {
  if (question.type === 'two-hop') return pick(rng, world.countries);
  if (question.type === 'comparison') return pick(rng, question.plan);
  if (question.question.startsWith('In which city')) return pick(rng, world.cities).name;
  if (question.question.startsWith('In which year')) return String(1700 + rng.int(300));
  return pick(rng, ['painter', 'farmer', 'sailor', 'teacher', 'doctor', 'baker']);
}

/** How a demonstration's first `<think>` opens (`make-base --restate-name`). */
export interface OpeningOptions {
  /**
   * Open with the question's first subject and a colon (`<think> Anna Berg: I already know this.`,
   * `<think> Anna Berg: I need to find Anna Berg.`), so the choice between answering and searching
   * comes right after the name has been copied, where a small model can condition on it. Default
   * false: `<think> I …`, the committed base policies' wording.
   */
  restateName?: boolean;
}

/** The start of a demonstration's first `<think>`: `<think>`, then `' NAME:'` when restating the name. */
export function thinkOpening(question: ToyQuestion, options: OpeningOptions = {}): string {
  const subject = question.plan[0];
  return options.restateName === true && subject !== undefined ? `<think> ${subject}:` : '<think>';
}

/**
 * One demonstration as loss segments: the prompt and every inserted `<information>` block carry
 * no loss; the agent's own text does. Retrieval is real (the world's index), so the demonstrated
 * information blocks are exactly what the rollout (or, for 'read', the RAG evaluation) inserts.
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
  opening: OpeningOptions = {},
): Promise<Segment[]> {
  const segments: Segment[] = [{ text: buildPrompt(question.question, tokenizer, prompt), loss: false }];
  const say = (text: string) => segments.push({ text, loss: true });
  const retrieve = async (query: string) => {
    const [hits = []] = await retriever.search([query], topk);
    segments.push({ text: informationBlock(hits), loss: false });
    return hits;
  };
  const search = async (query: string, needle: string): Promise<string> => {
    say(`<search> ${query} </search>`);
    return restate(await retrieve(query), query, needle);
  };
  const answer = question.golden_answers[0]!;
  const [first, second] = question.plan;
  const think = thinkOpening(question, opening);
  if (style === 'recall') {
    say(`${think} I already know this. </think>\n<answer> ${answer} </answer>`);
    return segments;
  }
  if (style === 'direct') {
    say(`${think} I already know this. </think>\n<answer> ${guess(world, question, rng)} </answer>`);
    return segments;
  }
  if (style === 'vague') {
    say(`${think} I should search for this. </think>\n`);
    const found = await search(pick(rng, VAGUE_QUERIES), 'born');
    say(`<think> ${found} </think>\n<answer> ${guess(world, question, rng)} </answer>`);
    return segments;
  }
  if (style === 'read') {
    // The RAG evaluation's layout: the question's own top-k passages right after the prompt.
    const hits = await retrieve(question.question);
    if (question.type === 'comparison') {
      const facts = question.plan.map((subject) => restate(hits, subject, 'born'));
      say(`<think> ${facts.join(' ')} </think>\n<answer> ${answer} </answer>`);
    } else if (question.type === 'two-hop') {
      // The passages name the city, not its country: read it, then guess like a reader without search.
      say(
        `<think> ${restate(hits, first, 'born')} </think>\n<answer> ${guess(world, question, rng)} </answer>`,
      );
    } else {
      say(`<think> ${restate(hits, first, answerNeedle(question))} </think>\n<answer> ${answer} </answer>`);
    }
    return segments;
  }
  // The plan: look up each subject in turn, restating the sentence that matters.
  say(`${think} I need to find ${first}. </think>\n`);
  const firstFact = await search(first!, second === undefined ? answerNeedle(question) : 'born');
  if (second === undefined) {
    say(`<think> ${firstFact} </think>\n<answer> ${answer} </answer>`);
    return segments;
  }
  // Two-hop: the second subject (the city) is read out of the first passage; comparison: the other person.
  say(`<think> ${firstFact} I need to find ${second}. </think>\n`);
  const secondFact = await search(second, question.type === 'two-hop' ? 'city in' : 'born');
  say(
    question.type === 'comparison'
      ? `<think> ${firstFact} ${secondFact} </think>\n<answer> ${answer} </answer>`
      : `<think> ${secondFact} </think>\n<answer> ${answer} </answer>`,
  );
  return segments;
}

/** Demonstrations for every question, styles drawn from `mix` with `rng` (known facts: `KNOWN_FACT_MIX`). */
export async function demonstrations(
  world: ToyWorld,
  questions: readonly ToyQuestion[],
  mix: StyleMix,
  retriever: Retriever,
  tokenizer: Tokenizer,
  rng: Rng,
  prompt: PromptOptions,
  opening: OpeningOptions = {},
): Promise<{ segments: Segment[]; style: DemonstrationStyle; questionId: string }[]> {
  const out = [];
  for (const question of questions) {
    const style: DemonstrationStyle =
      question.known === true
        ? rng.next() < KNOWN_FACT_MIX.recall / (KNOWN_FACT_MIX.recall + KNOWN_FACT_MIX.plan)
          ? 'recall'
          : 'plan'
        : chooseStyle(mix, rng);
    out.push({
      segments: await demonstrate(world, question, style, retriever, tokenizer, rng, prompt, 3, opening),
      style,
      questionId: question.id,
    });
  }
  return out;
}
