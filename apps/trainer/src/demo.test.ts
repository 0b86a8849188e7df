// Reusing a base evaluation (the cost study's second run takes its first run's): accepted only when
// it covers every base method and exactly the held-out questions, in order.

import { InvalidInputError } from '@sr1/core';
import type { EvalMethod, EvalQuestion, EvalRecord } from '@sr1/eval';
import { describe, expect, it } from 'vitest';
import { checkBaseRecords } from './demo.js';

const heldOut: EvalQuestion[] = [
  { id: 'w303-a', question: 'In which city was A born?', golden_answers: ['X'], type: 'unseen' },
  { id: 'w303-b', question: 'In which city was B born?', golden_answers: ['Y'], type: 'known' },
];

function record(method: EvalMethod, q: EvalQuestion): EvalRecord {
  return {
    dataset: 'held-out',
    method,
    id: q.id,
    type: q.type,
    question: q.question,
    goldenAnswers: q.golden_answers,
    prompt: q.question,
    retrieved: [],
    response: '<answer> X </answer>',
    answer: 'X',
    exactMatch: 1,
    substringMatch: 1,
    f1: 1,
    searches: [],
    searchesRefused: 0,
    sources: [],
    turns: 1,
    invalidActions: 0,
    finishReason: 'answer',
    promptTokens: 10,
    responseTokens: 5,
  };
}

const full = (questions: readonly EvalQuestion[]) =>
  new Map<EvalMethod, EvalRecord[]>(
    (['direct', 'rag', 'agent'] as const).map((m) => [m, questions.map((q) => record(m, q))]),
  );

describe('checkBaseRecords', () => {
  it('returns records that cover direct, RAG and agent on the held-out questions', () => {
    const records = full(heldOut);
    expect(checkBaseRecords(records, heldOut)).toBe(records);
  });

  it('refuses records with a method missing, another question list or another order', () => {
    const noRag = full(heldOut);
    noRag.delete('rag');
    expect(() => checkBaseRecords(noRag, heldOut)).toThrow(InvalidInputError);
    expect(() => checkBaseRecords(noRag, heldOut)).toThrow(/'rag'/);
    expect(() => checkBaseRecords(full(heldOut.slice(0, 1)), heldOut)).toThrow(/2 held-out questions/);
    expect(() => checkBaseRecords(full([...heldOut].reverse()), heldOut)).toThrow(InvalidInputError);
  });
});
