// The world's encyclopaedia as a Search-R1 corpus: one passage per person and per city, with the
// quoted title on the first line of `contents`. Famous people (if any) follow the world's people.

import type { ToyWorld } from './world.js';

/** One corpus line, exactly the Search-R1 JSONL record. */
export interface CorpusRecord {
  id: string;
  contents: string;
}

/** The passages of a world, people first (famous people last among them) then cities; ids are consecutive from "0". */
export function worldCorpus(world: ToyWorld): CorpusRecord[] {
  const passages: string[] = [];
  for (const person of [...world.people, ...(world.famous ?? [])]) {
    passages.push(
      `"${person.name}"\n${person.name} was born in ${person.birthCity} in ${person.birthYear}. ` +
        `${person.name} worked as a ${person.occupation}.`,
    );
  }
  for (const city of world.cities) {
    passages.push(`"${city.name}"\n${city.name} is a city in ${city.country}.`);
  }
  return passages.map((contents, index) => ({ id: String(index), contents }));
}
