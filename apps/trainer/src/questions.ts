// Reads question files (FlashRAG / Search-R1 JSONL: {id, question, golden_answers}) with errors
// that name the file, line and field.

import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '@sr1/core';
import type { EvalQuestion } from './agent-eval.js';

export async function readQuestions(file: string): Promise<EvalQuestion[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InvalidInputError({
      code: 'questions',
      file,
      reason: `unreadable (${(error as Error).message})`,
    });
  }
  const questions: EvalQuestion[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const where = { code: 'questions', file, line: index + 1 };
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidInputError({ ...where, reason: `invalid JSON (${(error as Error).message})` });
    }
    if (typeof record.id !== 'string' && typeof record.id !== 'number') {
      throw new InvalidInputError({ ...where, field: 'id', reason: 'expected a string' });
    }
    const id = String(record.id);
    if (seen.has(id)) throw new InvalidInputError({ ...where, field: 'id', reason: `duplicate id '${id}'` });
    seen.add(id);
    if (typeof record.question !== 'string' || record.question.trim() === '') {
      throw new InvalidInputError({ ...where, field: 'question', reason: 'expected a non-empty string' });
    }
    const gold = record.golden_answers;
    if (!Array.isArray(gold) || gold.length === 0 || gold.some((g) => typeof g !== 'string')) {
      throw new InvalidInputError({
        ...where,
        field: 'golden_answers',
        reason: 'expected a non-empty array of strings',
      });
    }
    questions.push({
      id,
      question: record.question,
      golden_answers: gold as string[],
      ...(typeof record.type === 'string' ? { type: record.type } : {}),
    });
  });
  return questions;
}
