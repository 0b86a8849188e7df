// The texts the small fixture tokenizer is trained on: Wikipedia passages from the shared corpus,
// plus Search-R1 style prompts and trajectories built from the QA questions, so that the tags
// (<think>, <search>, <information>, <answer> and their closing forms) become ordinary merged tokens.

import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '@sr1/core';
import { SEARCH_R1_INSTRUCTION } from '@sr1/spec';
import { MissingFileError } from '../errors.js';

interface QuestionRecord {
  question: string;
  answers: string[];
}

/** Reads one JSON object per line; `field` names the string field to take. */
async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new MissingFileError(file, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  const rows: Record<string, unknown>[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      rows.push(JSON.parse(line) as Record<string, unknown>);
    } catch (error) {
      throw new InvalidInputError({
        file,
        line: index + 1,
        reason: `invalid JSON: ${(error as Error).message}`,
      });
    }
  });
  return rows;
}

/**
 * Training texts: every corpus passage (`contents`), then for each question a Search-R1 prompt
 * and a trajectory that searches, reads a passage (taken round-robin from the corpus) and answers.
 */
export async function readTokenizerTrainingTexts(options: {
  corpusFiles: readonly string[];
  questionFiles: readonly string[];
}): Promise<string[]> {
  const passages: string[] = [];
  for (const file of options.corpusFiles) {
    (await readJsonl(file)).forEach((row, index) => {
      if (typeof row.contents !== 'string') {
        throw new InvalidInputError({
          file,
          line: index + 1,
          field: 'contents',
          reason: 'expected a string',
        });
      }
      passages.push(row.contents);
    });
  }
  const questions: QuestionRecord[] = [];
  for (const file of options.questionFiles) {
    (await readJsonl(file)).forEach((row, index) => {
      const answers = row.golden_answers;
      if (typeof row.question !== 'string' || !Array.isArray(answers)) {
        throw new InvalidInputError({
          file,
          line: index + 1,
          field: 'question',
          reason: 'expected question and golden_answers',
        });
      }
      questions.push({ question: row.question, answers: answers.map(String) });
    });
  }
  const texts = [...passages];
  questions.forEach((record, index) => {
    const passage = passages.length > 0 ? passages[index % passages.length]! : '';
    const [title = '', ...body] = passage.split('\n');
    const answer = record.answers[0] ?? '';
    texts.push(`${SEARCH_R1_INSTRUCTION}Question: ${record.question}\n`);
    texts.push(
      `<think> I need to find out: ${record.question} </think>\n<search> ${record.question} </search>\n\n` +
        `<information>Doc 1(Title: ${title}) ${body.join(' ')}\n</information>\n\n` +
        `<think> The passage answers it. </think>\n<answer> ${answer} </answer>`,
    );
  });
  return texts;
}
