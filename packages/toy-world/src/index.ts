// @sr1/toy-world: seeded worlds whose questions can only be answered by searching their corpus.

export type { CorpusRecord } from './corpus.js';
export { worldCorpus } from './corpus.js';
export type { QuestionOptions, QuestionType, ToyQuestion } from './questions.js';
export { knownQuestions, QUESTION_TYPES, worldQuestions } from './questions.js';
export type { City, Person, ToyWorld, ToyWorldOptions } from './world.js';
export { FAMOUS_SEED, famousPeople, generateWorld, OCCUPATIONS } from './world.js';
