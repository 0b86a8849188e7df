// Materialises a toy world on disk: its corpus (Search-R1 JSONL), its questions (JSONL with type)
// and a BM25 index folder, so trainers, evaluations and the retriever CLI all read the same files.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildIndex } from '@sr1/retriever';
import {
  generateWorld,
  type Person,
  type ToyQuestion,
  type ToyWorld,
  worldCorpus,
  worldQuestions,
} from '@sr1/toy-world';

export interface ToyWorldFiles {
  world: ToyWorld;
  dir: string;
  corpus: string;
  questions: string;
  index: string;
  questionList: ToyQuestion[];
}

export async function materializeWorld(
  dir: string,
  options: { seed: number; people?: number; questionsPerType: number; famous?: readonly Person[] },
): Promise<ToyWorldFiles> {
  await mkdir(dir, { recursive: true });
  const world = generateWorld({
    seed: options.seed,
    ...(options.people !== undefined ? { people: options.people } : {}),
    ...(options.famous !== undefined && options.famous.length > 0 ? { famous: options.famous } : {}),
  });
  const corpus = join(dir, 'corpus.jsonl');
  await writeFile(
    corpus,
    worldCorpus(world)
      .map((record) => `${JSON.stringify(record)}\n`)
      .join(''),
  );
  const questionList = worldQuestions(world, {
    perType: options.questionsPerType,
    seed: options.seed + 1_000,
  });
  const questions = join(dir, 'questions.jsonl');
  await writeFile(
    questions,
    questionList
      .map(
        (q) =>
          `${JSON.stringify({ id: q.id, question: q.question, golden_answers: q.golden_answers, type: q.type })}\n`,
      )
      .join(''),
  );
  const index = join(dir, 'index');
  await buildIndex({ corpus, out: index, kind: 'bm25' });
  return { world, dir, corpus, questions, index, questionList };
}
