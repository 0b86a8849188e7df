import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { describe, expect, it } from 'vitest';
import {
  DatasetFormatError,
  loadDatasets,
  questionFromPrompt,
  readJsonlDataset,
  readSupportingPassages,
} from './datasets.js';
import { SHARED_DATA_DIR } from './testing/index.js';

const SEVEN = ['2wikimultihopqa', 'bamboogle', 'hotpotqa', 'musique', 'nq', 'popqa', 'triviaqa'];

function tempFile(name: string, content: string | Uint8Array): string {
  const file = join(mkdtempSync(join(tmpdir(), 'sr1-eval-data-')), name);
  writeFileSync(file, content);
  return file;
}

/** Rows as the reference's scripts/data_process/qa_search_test_merge.py writes them. */
function referenceRows() {
  const instruction = 'Answer the given question. ... For example, <answer> Beijing </answer>. Question: ';
  return [
    {
      source: 'nq',
      question: 'who got the first nobel prize in physics?',
      target: ['Wilhelm Conrad Röntgen'],
      index: 0,
    },
    {
      source: 'nq',
      question: 'when is the next deadpool movie being released?',
      target: ['May 18, 2018'],
      index: 1,
    },
    {
      source: 'bamboogle',
      question: 'Who was president when the first Star Wars was released?',
      target: ['Jimmy Carter'],
      index: 0,
    },
  ].map((row) => ({
    data_source: row.source,
    prompt: [{ role: 'user', content: `${instruction}${row.question}\n` }],
    ability: 'fact-reasoning',
    reward_model: { style: 'rule', ground_truth: { target: row.target } },
    extra_info: { split: 'test', index: row.index },
  }));
}

function parquetOf(rows: Record<string, unknown>[]): Uint8Array {
  const names = Object.keys(rows[0]!);
  return new Uint8Array(
    parquetWriteBuffer({ columnData: names.map((name) => ({ name, data: rows.map((r) => r[name]) })) }),
  );
}

describe('JSONL datasets', () => {
  it('reads the seven shared datasets from their folder', async () => {
    const datasets = await loadDatasets([SHARED_DATA_DIR]);
    expect(datasets.map((d) => d.name)).toEqual(SEVEN);
    const sizes = Object.fromEntries(datasets.map((d) => [d.name, d.questions.length]));
    expect(sizes).toEqual({
      '2wikimultihopqa': 941,
      bamboogle: 100,
      hotpotqa: 400,
      musique: 80,
      nq: 1000,
      popqa: 800,
      triviaqa: 1000,
    });
    const nq = datasets.find((d) => d.name === 'nq')!;
    expect(nq.questions[0]).toEqual({
      id: 'nq_dev_0',
      question: 'when was the last time anyone was on the moon',
      golden_answers: ['14 December 1972 UTC', 'December 1972'],
    });
  });

  it('names file, line and field of bad input', () => {
    const good = '{"id": "q1", "question": "who?", "golden_answers": ["x"]}';
    const cases: [string, RegExp][] = [
      [`${good}\n{"id": "q2", "question": "", "golden_answers": ["x"]}`, /bad\.jsonl:2: field 'question'/],
      [
        `${good}\n\n{"id": "q2", "question": "a", "golden_answers": []}`,
        /bad\.jsonl:3: field 'golden_answers'/,
      ],
      [`${good}\n{"question": "a", "golden_answers": ["x"]}`, /bad\.jsonl:2: field 'id'/],
      [`${good}\n${good}`, /bad\.jsonl:2: field 'id': duplicate id 'q1' \(first on line 1\)/],
      [`${good}\n{oops`, /bad\.jsonl:2: not valid JSON/],
      ['\n', /holds no questions/],
    ];
    for (const [content, message] of cases) {
      const file = tempFile('bad.jsonl', content);
      expect(() => readJsonlDataset(file)).toThrow(DatasetFormatError);
      expect(() => readJsonlDataset(file)).toThrow(message);
    }
  });

  it('refuses paths that hold no datasets', async () => {
    await expect(loadDatasets(['/nonexistent/x.jsonl'])).rejects.toThrow(/no such file/);
    await expect(loadDatasets([tempFile('a.txt', 'x')])).rejects.toThrow(/expected a .jsonl or .parquet/);
  });

  it('reads supporting.jsonl', () => {
    const labels = readSupportingPassages(join(SHARED_DATA_DIR, 'supporting.jsonl'));
    expect(labels.get('nq')?.get('nq_dev_0')).toEqual(['0']);
    expect([...labels.keys()].sort()).toEqual(['2wikimultihopqa', 'hotpotqa', 'musique', 'nq', 'popqa']);
    expect(labels.get('musique')?.size).toBe(80);
  });
});

describe('reference parquet datasets', () => {
  it('groups rows by data_source, takes the question after "Question: " and the target as gold', async () => {
    const file = tempFile('test.parquet', parquetOf(referenceRows()));
    const datasets = await loadDatasets([file]);
    expect(datasets.map((d) => d.name)).toEqual(['nq', 'bamboogle']);
    expect(datasets[0]!.questions[1]).toEqual({
      id: 'nq_1',
      question: 'when is the next deadpool movie being released?',
      golden_answers: ['May 18, 2018'],
    });
    expect(datasets[1]!.questions).toEqual([
      {
        id: 'bamboogle_0',
        question: 'Who was president when the first Star Wars was released?',
        golden_answers: ['Jimmy Carter'],
      },
    ]);
  });

  it('names the row and field of a bad row', async () => {
    const rows = referenceRows();
    rows[2]!.reward_model = { style: 'rule', ground_truth: { target: [] } };
    const file = tempFile('bad.parquet', parquetOf(rows));
    await expect(loadDatasets([file])).rejects.toThrow(
      /bad\.parquet:3: field 'reward_model.ground_truth.target'/,
    );
    const duplicate = referenceRows();
    duplicate[1]!.extra_info.index = 0;
    await expect(loadDatasets([tempFile('dup.parquet', parquetOf(duplicate))])).rejects.toThrow(
      /dup\.parquet:2: field 'extra_info.index': duplicate id 'nq_0'/,
    );
    await expect(loadDatasets([tempFile('x.parquet', 'not parquet')])).rejects.toThrow(
      /not a readable parquet file/,
    );
  });

  it('refuses a dataset given twice', async () => {
    const file = tempFile('test.parquet', parquetOf(referenceRows()));
    const jsonl = tempFile('nq.jsonl', '{"id": "q1", "question": "who?", "golden_answers": ["x"]}\n');
    await expect(loadDatasets([file, jsonl])).rejects.toThrow(/dataset 'nq' is also given by/);
  });

  it('reads the question from a raw prompt without the instruction', () => {
    expect(questionFromPrompt('  who wrote it?\n')).toBe('who wrote it?');
    expect(questionFromPrompt('A. Question: not this. Question: this one?\n')).toBe('this one?');
  });
});
