// Questions with golden answers over a world: single-hop lookups, two-hop bridges (the answer of
// the first lookup is the subject of the second) and comparisons of two people.

import { createRng, InvalidInputError, type Rng } from '@sr1/core';
import type { Person, ToyWorld } from './world.js';

export type QuestionType = 'single-hop' | 'two-hop' | 'comparison';

export const QUESTION_TYPES: readonly QuestionType[] = ['single-hop', 'two-hop', 'comparison'];

/** A question in the FlashRAG/Search-R1 JSONL shape, plus what a perfect agent would search. */
export interface ToyQuestion {
  /** Unique across worlds: `w{seed}-{type}-{index}`. */
  id: string;
  question: string;
  golden_answers: string[];
  type: QuestionType;
  /** The searches of a perfect agent, in order (the subjects to look up). */
  plan: string[];
  /** True for a fact about a well-known person (`famousPeople`), which pretraining can teach. */
  known?: boolean;
}

export interface QuestionOptions {
  /** Questions of each type. */
  perType: number;
  /** Seed of the sampling of subjects (independent of the world's seed). */
  seed: number;
}

/** Samples `perType` questions of each type; the same world and options give the same questions. */
export function worldQuestions(world: ToyWorld, options: QuestionOptions): ToyQuestion[] {
  if (!Number.isInteger(options.perType) || options.perType < 0) {
    throw new InvalidInputError({
      field: 'perType',
      reason: `expected an integer ≥ 0, got ${options.perType}`,
    });
  }
  const rng = createRng(options.seed);
  const cityOf = new Map(world.cities.map((city) => [city.name, city]));
  const questions: ToyQuestion[] = [];
  const id = (type: QuestionType, index: number): string => `w${world.seed}-${type}-${index}`;
  for (let i = 0; i < options.perType; i++) {
    const person = world.people[rng.int(world.people.length)]!;
    const kind = rng.int(3);
    if (kind === 0) {
      questions.push({
        id: id('single-hop', i),
        question: `In which city was ${person.name} born?`,
        golden_answers: [person.birthCity],
        type: 'single-hop',
        plan: [person.name],
      });
    } else if (kind === 1) {
      questions.push({
        id: id('single-hop', i),
        question: `What was the occupation of ${person.name}?`,
        golden_answers: [person.occupation],
        type: 'single-hop',
        plan: [person.name],
      });
    } else {
      questions.push({
        id: id('single-hop', i),
        question: `In which year was ${person.name} born?`,
        golden_answers: [String(person.birthYear)],
        type: 'single-hop',
        plan: [person.name],
      });
    }
  }
  for (let i = 0; i < options.perType; i++) {
    const person = world.people[rng.int(world.people.length)]!;
    const city = cityOf.get(person.birthCity)!;
    questions.push({
      id: id('two-hop', i),
      question: `In which country was ${person.name} born?`,
      golden_answers: [city.country],
      type: 'two-hop',
      plan: [person.name, city.name],
    });
  }
  for (let i = 0; i < options.perType; i++) {
    const [a, b] = twoWithDifferentYears(world, rng);
    questions.push({
      id: id('comparison', i),
      question: `Who was born earlier, ${a.name} or ${b.name}?`,
      golden_answers: [a.birthYear < b.birthYear ? a.name : b.name],
      type: 'comparison',
      plan: [a.name, b.name],
    });
  }
  return questions;
}

/**
 * The single-hop facts about well-known people: per person, the birth city then the occupation
 * (`famous-{index}-city`, `famous-{index}-occupation`), all marked `known`. No years: a four-digit
 * number is the one fact a small model neither copies nor memorises reliably.
 */
export function knownQuestions(people: readonly Person[]): ToyQuestion[] {
  return people.flatMap((person, index) => [
    {
      id: `famous-${index}-city`,
      question: `In which city was ${person.name} born?`,
      golden_answers: [person.birthCity],
      type: 'single-hop' as const,
      plan: [person.name],
      known: true,
    },
    {
      id: `famous-${index}-occupation`,
      question: `What was the occupation of ${person.name}?`,
      golden_answers: [person.occupation],
      type: 'single-hop' as const,
      plan: [person.name],
      known: true,
    },
  ]);
}

function twoWithDifferentYears(
  world: ToyWorld,
  rng: Rng,
): [ToyWorld['people'][number], ToyWorld['people'][number]] {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const a = world.people[rng.int(world.people.length)]!;
    const b = world.people[rng.int(world.people.length)]!;
    if (a !== b && a.birthYear !== b.birthYear) return [a, b];
  }
  throw new InvalidInputError({
    code: 'toy_world_unsatisfiable',
    reason: 'the world has no two people with different birth years',
  });
}
