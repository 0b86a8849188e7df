import { InvalidInputError } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { worldCorpus } from './corpus.js';
import { knownQuestions, QUESTION_TYPES, worldQuestions } from './questions.js';
import { famousPeople, generateWorld, OCCUPATIONS } from './world.js';

describe('generateWorld', () => {
  it('is a function of the seed', () => {
    expect(generateWorld({ seed: 5 })).toEqual(generateWorld({ seed: 5 }));
    const a = generateWorld({ seed: 5 });
    const b = generateWorld({ seed: 6 });
    const shared = a.people.filter((person) => b.people.some((other) => other.name === person.name));
    expect(shared.length).toBe(0);
  });

  it('has unique names and consistent relations', () => {
    const world = generateWorld({ seed: 1, people: 50, cities: 10, countries: 4 });
    const names = [
      ...world.people.map((p) => p.name),
      ...world.cities.map((c) => c.name),
      ...world.countries,
    ];
    expect(new Set(names).size).toBe(names.length);
    const cityNames = new Set(world.cities.map((city) => city.name));
    for (const person of world.people) expect(cityNames.has(person.birthCity)).toBe(true);
    for (const city of world.cities) expect(world.countries).toContain(city.country);
    expect(new Set(world.cities.map((city) => city.country)).size).toBe(4);
  });

  it('rejects bad sizes with the field named', () => {
    expect(() => generateWorld({ seed: 1, people: 1 })).toThrow("field 'people'");
    expect(() => generateWorld({ seed: -1 })).toThrow("field 'seed'");
    expect(() => generateWorld({ seed: -1 })).toThrow(InvalidInputError);
  });
});

describe('worldCorpus', () => {
  it('writes Search-R1 records whose passages state every fact', () => {
    const world = generateWorld({ seed: 2 });
    const corpus = worldCorpus(world);
    expect(corpus.length).toBe(world.people.length + world.cities.length);
    expect(corpus.map((record) => record.id)).toEqual(corpus.map((_, index) => String(index)));
    const person = world.people[0]!;
    const record = corpus[0]!;
    expect(record.contents.split('\n')[0]).toBe(`"${person.name}"`);
    expect(record.contents).toContain(`born in ${person.birthCity} in ${person.birthYear}`);
    expect(record.contents).toContain(person.occupation);
  });
});

describe('worldQuestions', () => {
  const world = generateWorld({ seed: 3 });
  const questions = worldQuestions(world, { perType: 20, seed: 9 });

  it('rejects a world whose comparisons cannot be asked, with a typed error', () => {
    const world = generateWorld({ seed: 3 });
    const sameYear = { ...world, people: world.people.map((person) => ({ ...person, birthYear: 1900 })) };
    const ask = () => worldQuestions(sameYear, { perType: 5, seed: 1 });
    expect(ask).toThrow(InvalidInputError);
    expect(ask).toThrow('the world has no two people with different birth years');
  });

  it('samples each type with unique ids', () => {
    for (const type of QUESTION_TYPES) expect(questions.filter((q) => q.type === type).length).toBe(20);
    expect(new Set(questions.map((q) => q.id)).size).toBe(questions.length);
  });

  it('gives answers that follow from the passages along the plan', () => {
    const passages = new Map(
      worldCorpus(world).map((r) => [r.contents.split('\n')[0]!.slice(1, -1), r.contents]),
    );
    for (const question of questions) {
      const evidence = question.plan.map((subject) => passages.get(subject));
      expect(evidence.every((text) => text !== undefined)).toBe(true);
      if (question.type === 'comparison') {
        expect(question.question).toContain(question.golden_answers[0]);
      } else {
        expect(evidence.at(-1)).toContain(question.golden_answers[0]);
      }
    }
  });

  it('makes two-hop answers unreachable from the first passage alone', () => {
    const passages = new Map(
      worldCorpus(world).map((r) => [r.contents.split('\n')[0]!.slice(1, -1), r.contents]),
    );
    for (const question of questions.filter((q) => q.type === 'two-hop')) {
      expect(passages.get(question.plan[0]!)).not.toContain(question.golden_answers[0]);
    }
  });
});

describe('famousPeople / knownQuestions', () => {
  const famous = famousPeople(24);

  it('is one fixed set: the same people every time, unique names, every occupation', () => {
    expect(famousPeople(24)).toEqual(famous);
    expect(new Set(famous.map((p) => p.name)).size).toBe(24);
    expect(new Set(famous.map((p) => p.occupation)).size).toBe(OCCUPATIONS.length);
    // Two people of one city do not share an occupation.
    const pairs = famous.map((p) => `${p.birthCity}/${p.occupation}`);
    expect(new Set(pairs).size).toBe(24);
    expect(() => famousPeople(0)).toThrow(InvalidInputError);
  });

  it('joins a world without changing its own people, and its corpus states their facts', () => {
    const plain = generateWorld({ seed: 303, people: 200 });
    const world = generateWorld({ seed: 303, people: 200, famous });
    expect(world.people).toEqual(plain.people);
    expect(world.famous).toEqual(famous);
    expect(plain.famous).toBeUndefined();
    const corpus = worldCorpus(world);
    expect(corpus.length).toBe(worldCorpus(plain).length + famous.length);
    const titles = corpus.map((record) => record.contents.split('\n')[0]!.slice(1, -1));
    expect(new Set(titles).size).toBe(titles.length);
    const passages = new Map(corpus.map((r) => [r.contents.split('\n')[0]!.slice(1, -1), r.contents]));
    for (const question of knownQuestions(famous)) {
      expect(passages.get(question.plan[0]!)).toContain(question.golden_answers[0]);
    }
  });

  it('asks each person’s city and occupation, marked known', () => {
    const questions = knownQuestions(famous);
    expect(questions.length).toBe(48);
    expect(questions.every((q) => q.known === true && q.type === 'single-hop')).toBe(true);
    expect(new Set(questions.map((q) => q.id)).size).toBe(48);
    expect(questions[0]).toMatchObject({
      id: 'famous-0-city',
      question: `In which city was ${famous[0]!.name} born?`,
      golden_answers: [famous[0]!.birthCity],
    });
    expect(questions[1]!.golden_answers).toEqual([famous[0]!.occupation]);
    // The world's own questions never ask about them.
    const world = generateWorld({ seed: 5, famous });
    const asked = worldQuestions(world, { perType: 30, seed: 1 }).flatMap((q) => q.plan);
    expect(asked.some((name) => famous.some((p) => p.name === name))).toBe(false);
  });
});
