// A seeded toy encyclopaedia: invented people, cities and countries with attributes and relations.
// Names are made from syllables, so worlds from different seeds share no facts and a policy can
// only answer questions about an unseen world by searching its corpus.

import { createRng, InvalidInputError, type Rng } from '@sr1/core';

export interface Person {
  name: string;
  /** Name of the city the person was born in. */
  birthCity: string;
  birthYear: number;
  occupation: string;
}

export interface City {
  name: string;
  /** Name of the country the city lies in. */
  country: string;
}

export interface ToyWorld {
  seed: number;
  people: Person[];
  cities: City[];
  countries: string[];
  /** Well-known people added to this world (`famousPeople`): the same in every world that has them. */
  famous?: Person[];
}

export interface ToyWorldOptions {
  seed: number;
  people?: number; // 80: enough distinct subjects for a few hundred questions per world
  cities?: number; // 24: several people per city, so city passages are shared evidence
  countries?: number; // 8: several cities per country, so two-hop answers repeat across questions
  /** Well-known people (`famousPeople()`) whose passages join the corpus; none by default. */
  famous?: readonly Person[];
}

/** Occupations are a closed, common vocabulary: the model can learn to spell them. */
export const OCCUPATIONS = [
  'painter',
  'farmer',
  'sailor',
  'teacher',
  'doctor',
  'baker',
  'poet',
  'engineer',
  'judge',
  'singer',
  'weaver',
  'architect',
] as const;

const ONSETS = [
  'b',
  'd',
  'f',
  'g',
  'k',
  'l',
  'm',
  'n',
  'p',
  'r',
  's',
  't',
  'v',
  'z',
  'br',
  'dr',
  'kr',
  'st',
  'th',
  'sh',
];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou'];
const CODAS = ['', '', 'n', 'r', 'l', 's', 'm', 'th'];

/** A pronounceable capitalised name of `syllables` syllables. */
function inventName(rng: Rng, syllables: number): string {
  let name = '';
  for (let i = 0; i < syllables; i++) {
    name += pick(rng, ONSETS) + pick(rng, VOWELS) + (i === syllables - 1 ? pick(rng, CODAS) : '');
  }
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[rng.int(items.length)]!;
}

function uniqueNames(rng: Rng, count: number, syllables: () => number, taken: Set<string>): string[] {
  const names: string[] = [];
  for (let attempts = 0; names.length < count; attempts++) {
    if (attempts > count * 1000) {
      throw new InvalidInputError({
        code: 'toy_world_unsatisfiable',
        reason: `could not invent ${count} unique names`,
      });
    }
    const name = inventName(rng, syllables());
    if (!taken.has(name)) {
      taken.add(name);
      names.push(name);
    }
  }
  return names;
}

function requireCount(value: number, field: string, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum) {
    throw new InvalidInputError({ field, reason: `expected an integer ≥ ${minimum}, got ${value}` });
  }
  return value;
}

/** Generates a world; the same seed and options always give the same world. */
export function generateWorld(options: ToyWorldOptions): ToyWorld {
  const seed = requireCount(options.seed, 'seed', 0);
  const peopleCount = requireCount(options.people ?? 80, 'people', 2);
  const cityCount = requireCount(options.cities ?? 24, 'cities', 1);
  const countryCount = requireCount(options.countries ?? 8, 'countries', 1);
  const rng = createRng(seed);
  const famous = options.famous ?? [];
  // The famous names are taken, so the world's own names never collide with them.
  const taken = new Set<string>(famous.flatMap((person) => [person.name.split(' ')[0]!, person.birthCity]));
  const countries = uniqueNames(rng, countryCount, () => 2 + rng.int(2), taken);
  const cities = uniqueNames(rng, cityCount, () => 2 + rng.int(2), taken).map((name, index) => ({
    name,
    // Every country gets at least one city when there are enough cities.
    country: index < countryCount ? countries[index]! : pick(rng, countries),
  }));
  const firstNames = uniqueNames(rng, peopleCount, () => 2, new Set(taken));
  const people = firstNames.map((first) => {
    const surname = inventName(rng, 2);
    const name = `${first} ${surname}`;
    return {
      name,
      birthCity: pick(rng, cities).name,
      birthYear: 1700 + rng.int(300),
      occupation: pick(rng, OCCUPATIONS),
    };
  });
  return {
    seed,
    people,
    cities,
    countries,
    ...(famous.length > 0 ? { famous: famous.map((p) => ({ ...p })) } : {}),
  };
}

/** Seed of the well-known people: one fixed set, the same in every world and in pretraining. */
export const FAMOUS_SEED = 4_242;

/**
 * `count` well-known people: invented like any world's people but from one fixed seed, so the same
 * names and facts recur in every world given them. Pretraining that sees them in many worlds can
 * memorise their facts — the analogue of what a base LLM knows without searching. Their birth
 * cities are their own (not cities of any world), so only single-hop questions are asked about them.
 */
export function famousPeople(count = 24): Person[] {
  requireCount(count, 'count', 1);
  const rng = createRng(FAMOUS_SEED);
  const taken = new Set<string>();
  const cities = uniqueNames(rng, Math.max(1, Math.ceil(count / 2)), () => 2 + rng.int(2), taken);
  const firstNames = uniqueNames(rng, count, () => 2, taken);
  return firstNames.map((first, index) => ({
    name: `${first} ${inventName(rng, 2)}`,
    birthCity: cities[index % cities.length]!,
    birthYear: 1700 + rng.int(300),
    // Every occupation in turn (so no one answer dominates), shifted each round so that two people
    // of one city do not share an occupation too.
    occupation: OCCUPATIONS[(index * 5 + Math.floor(index / OCCUPATIONS.length) * 3) % OCCUPATIONS.length]!,
  }));
}
