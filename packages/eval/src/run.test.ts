import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInputError } from '@sr1/core';
import {
  CHATML_EOS,
  CHATML_PIECES,
  DEFAULT_PIECES,
  InMemoryRetriever,
  PieceTokenizer,
  qwenChatTemplate,
  RuleBasedGenerator,
  ScriptedGenerator,
} from '@sr1/rollout/testing';
import { describe, expect, it } from 'vitest';
import type { EvalDataset } from './datasets.js';
import { evaluateMethod, runMethod } from './methods.js';
import { buildResultsTable, renderHtml, renderMarkdown, summarizeByType } from './report.js';
import { readResults, runEvaluation } from './run.js';

const tokenizer = new PieceTokenizer();

/**
 * A rule-based policy that behaves per method: the agent searches, then answers from the first
 * document's title; the RAG prompt is answered from its first document; direct and CoT answer "Rockstar North".
 */
function policy() {
  return new RuleBasedGenerator({
    tokenizer,
    respond: (prompt) => {
      const title = /Doc 1\(Title: "([^"]+)"\)/.exec(prompt)?.[1];
      if (prompt.includes('call a search engine')) {
        return title === undefined
          ? '<think>look it up</think><search> hot coffee mod </search>'
          : `<think>found</think><answer> ${title} </answer>`;
      }
      if (prompt.includes('Documents:')) return `<answer> ${title ?? 'none'} </answer>`;
      if (prompt.includes('Think step by step'))
        return '<think>a game studio</think><answer> Rockstar North </answer>';
      return '<answer> Rockstar North </answer>';
    },
  });
}

const datasets: EvalDataset[] = [
  {
    name: 'toy-a',
    file: 'toy-a.jsonl',
    questions: [
      { id: 'a0', question: 'what is the hot coffee mod', golden_answers: ['Hot Coffee mod'] },
      { id: 'a1', question: 'who made gta san andreas', golden_answers: ['Rockstar North'] },
      { id: 'a2', question: 'third question', golden_answers: ['nothing'] },
    ],
  },
  {
    name: 'toy-b',
    file: 'toy-b.jsonl',
    questions: [{ id: 'b0', question: 'hot coffee mod?', golden_answers: ['the Hot Coffee Mod'] }],
  },
];

describe('sources: the passages each answer rests on', () => {
  it('records them for the agent (its searches) and RAG (its prompt), none for direct; the HTML lists them', async () => {
    const parts = { generator: policy(), tokenizer, retriever: new InMemoryRetriever() };
    const questions = datasets[0]!.questions.slice(0, 1); // the hot coffee mod
    const [agent] = await runMethod('agent', 'toy-a', questions, parts);
    const hits = (await new InMemoryRetriever().search(['hot coffee mod'], 3))[0]!;
    expect(agent!.sources.map((source) => source.id)).toEqual(hits.map((hit) => hit.id));
    expect(agent!.sources[0]).toEqual({
      id: '4',
      title: 'Hot Coffee mod',
      turn: 0,
      via: 'search',
      containsAnswer: true,
    });
    expect(agent!.searchesRefused).toBe(0);
    const [rag] = await runMethod('rag', 'toy-a', questions, parts);
    expect(rag!.sources.map((source) => source.id)).toEqual(rag!.retrieved.map((hit) => hit.id));
    expect(rag!.sources[0]!.containsAnswer).toBe(true);
    const [direct] = await runMethod('direct', 'toy-a', questions, parts);
    expect(direct!.sources).toEqual([]);

    const html = renderHtml(buildResultsTable([agent!, rag!, direct!]), 'run', {
      records: [agent!, rag!, direct!],
    });
    expect(html).toContain('<h2>Questions and their sources</h2>');
    expect(html).toContain(
      '<li>Hot Coffee mod<span class="muted"> [4]</span> <b title="contains the answer">✓</b></li>',
    );
    expect(html).toContain('<p class="muted">No passages.</p>'); // direct
    expect(
      renderHtml(buildResultsTable([agent!]), 'run', { records: [agent!, rag!], maxQuestions: 1 }),
    ).toContain('First 1 of 2 questions.');
  });

  it("runs the agent with native tool calls (toolFormat 'hermes'): tools in the prompt, a search budget", async () => {
    const chat = new PieceTokenizer([...DEFAULT_PIECES, ...CHATML_PIECES], {
      eosText: CHATML_EOS,
      chatTemplate: qwenChatTemplate,
    });
    const call = '<tool_call>\n{"name": "search", "arguments": {"query": "hot coffee mod"}}\n</tool_call>';
    const generator = new ScriptedGenerator({
      tokenizer: chat,
      scripts: { a0: [call, call, '<answer> Hot Coffee mod </answer>'] },
    });
    const [agent] = await runMethod('agent', 'toy-a', datasets[0]!.questions.slice(0, 1), {
      generator,
      tokenizer: chat,
      retriever: new InMemoryRetriever(),
      rollout: { toolFormat: 'hermes', maxSearches: 1 },
    });
    expect(agent!.prompt).toContain('<tools>\n{"type":"function","function":{"name":"search"');
    expect(agent!.prompt).toContain('you can call the search tool');
    expect(agent!.searches).toHaveLength(1);
    expect(agent!.searchesRefused).toBe(1);
    expect(agent!.exactMatch).toBe(1);
    expect(generator.calls[0]!.stop).toEqual(['</tool_call>', '</answer>']);
  });
});

describe('runMethod', () => {
  it('builds each method prompt and scores the last answer', async () => {
    const generator = policy();
    const retriever = new InMemoryRetriever();
    const parts = { generator, tokenizer, retriever };
    const [direct] = await runMethod('direct', 'toy-a', datasets[0]!.questions.slice(1, 2), parts);
    expect(direct!.prompt).toContain('Question: who made gta san andreas?\n');
    expect(direct!.answer).toBe('Rockstar North');
    expect(direct!.exactMatch).toBe(1);
    expect(direct!.searches).toEqual([]);

    const [rag] = await runMethod('rag', 'toy-a', datasets[0]!.questions.slice(0, 1), parts);
    expect(rag!.prompt).toContain('Documents:\nDoc 1(Title: "Hot Coffee mod")');
    expect(rag!.retrieved[0]!.id).toBe('4');
    expect(rag!.exactMatch).toBe(1);
    expect(retriever.calls.at(-1)).toEqual({ queries: ['what is the hot coffee mod'], topk: 3 });

    const [agent] = await runMethod('agent', 'toy-a', datasets[0]!.questions.slice(0, 1), parts);
    expect(agent!.searches.map((s) => s.query)).toEqual(['hot coffee mod']);
    expect(agent!.response).toContain('<information>Doc 1(Title: "Hot Coffee mod")');
    expect(agent!.answer).toBe('Hot Coffee mod');
    expect(agent!.exactMatch).toBe(1);
    expect(agent!.turns).toBe(2);
    // Every generator call of the evaluation is greedy.
    expect(generator.calls.every((call) => call.temperature === 0)).toBe(true);
  });

  it('takes the answer from the generated answer action, not from inserted text', async () => {
    // A policy that never acts: each round gets the invalid-action message, which itself reads
    // "... put the answer between <answer> and </answer> ...".
    const idle = new RuleBasedGenerator({ tokenizer, respond: () => 'thinking' });
    const [record] = await runMethod('agent', 'toy-a', datasets[0]!.questions.slice(0, 1), {
      generator: idle,
      tokenizer,
      retriever: new InMemoryRetriever(),
      rollout: { maxTurns: 2 },
    });
    expect(record!.invalidActions).toBe(2);
    expect(record!.response).toContain('<answer> and </answer>');
    expect(record!.answer).toBeNull();
    expect(record!.f1).toBe(0);
  });

  it('takes a custom agent instruction and keeps question types', async () => {
    const generator = policy();
    const [record] = await runMethod(
      'agent',
      'toy',
      [{ id: 't0', question: 'hot coffee mod', golden_answers: ['Hot Coffee mod'], type: 'single-hop' }],
      {
        generator,
        tokenizer,
        retriever: new InMemoryRetriever(),
        agentTemplate: { text: 'Use <search> to call a search engine. Q: {question}\n' },
      },
    );
    expect(record!.prompt).toBe('Use <search> to call a search engine. Q: hot coffee mod?\n');
    expect(record!.type).toBe('single-hop');
    expect(record!.exactMatch).toBe(1);
  });

  it("gives every method the agent's prompt with baselinePrompts 'agent', RAG's passages as an information block", async () => {
    const retriever = new InMemoryRetriever();
    const agentTemplate = { text: 'Use <search> to call a search engine. Q: {question}\n' };
    const parts = {
      generator: policy(),
      tokenizer,
      retriever,
      agentTemplate,
      baselinePrompts: 'agent' as const,
    };
    const question = datasets[0]!.questions.slice(0, 1);
    const [direct] = await runMethod('direct', 'toy-a', question, parts);
    expect(direct!.prompt).toBe('Use <search> to call a search engine. Q: what is the hot coffee mod?\n');
    expect(direct!.searches).toEqual([]); // search is off: the policy's <search> is not run
    const [rag] = await runMethod('rag', 'toy-a', question, parts);
    expect(rag!.prompt).toMatch(
      /^Use <search> to call a search engine\. Q: what is the hot coffee mod\?\n\n\n<information>Doc 1\(Title: "Hot Coffee mod"\)/,
    );
    expect(rag!.prompt.endsWith('</information>\n\n')).toBe(true);
    expect(rag!.retrieved[0]!.id).toBe('4');
    expect(rag!.answer).toBe('Hot Coffee mod');
    expect(rag!.searches).toEqual([]);
  });

  it('keeps the whole trajectory only when asked', async () => {
    const question = datasets[0]!.questions.slice(0, 1);
    const parts = { generator: policy(), tokenizer, retriever: new InMemoryRetriever() };
    const [plain] = await runMethod('agent', 'toy-a', question, parts);
    expect(plain!.trajectory).toBeUndefined();
    const [kept] = await runMethod('agent', 'toy-a', question, { ...parts, keepTrajectories: true });
    expect(kept!.trajectory!.text).toBe(kept!.response);
    expect(kept!.trajectory!.responseTokenIds.length).toBe(kept!.responseTokens);
  });

  it('evaluates in batches of batchSize with the records of one call, and summarises by type', async () => {
    const questions = [
      ...datasets[0]!.questions.map((q, i) => ({ ...q, type: i === 0 ? 'lookup' : 'who' })),
      { id: 'x', question: 'untyped', golden_answers: ['none'] },
    ];
    const parts = { generator: policy(), tokenizer, retriever: new InMemoryRetriever() };
    const batched = await evaluateMethod('direct', 'toy-a', questions, parts, 2);
    expect(parts.generator.calls.map((call) => call.prompts.length)).toEqual([2, 2]);
    const whole = await runMethod('direct', 'toy-a', questions, { ...parts, generator: policy() });
    expect(batched).toEqual(whole);
    await expect(evaluateMethod('direct', 'toy-a', questions, parts, 0)).rejects.toThrow(InvalidInputError);

    const summary = summarizeByType('direct', batched);
    expect(summary).toEqual({
      method: 'direct',
      count: 4,
      exactMatch: 0.25, // only "who made gta san andreas" is Rockstar North
      searchesPerQuestion: 0,
      byType: {
        all: { count: 1, exactMatch: 0, searchesPerQuestion: 0 },
        lookup: { count: 1, exactMatch: 0, searchesPerQuestion: 0 },
        who: { count: 2, exactMatch: 0.5, searchesPerQuestion: 0 },
      },
    });
  });

  it('refuses retrieval methods without a retriever', async () => {
    await expect(
      runMethod('rag', 'toy-a', datasets[0]!.questions, { generator: policy(), tokenizer }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});

describe('runEvaluation', () => {
  it('appends one record per question and method, resumes without regenerating, and tables the EM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr1-eval-run-'));
    const resultsFile = join(dir, 'results.jsonl');
    const generator = policy();
    const common = {
      datasets,
      methods: ['direct', 'cot', 'rag', 'agent'] as const,
      generator,
      tokenizer,
      retriever: new InMemoryRetriever(),
      resultsFile,
      batchSize: 2,
      concurrency: 2,
    };
    const progress: number[] = [];
    const first = await runEvaluation({ ...common, limit: 2, onProgress: (p) => progress.push(p.done) });
    expect(first.evaluated).toBe(12); // (2 + 1) questions x 4 methods
    expect(first.resumed).toBe(0);
    expect(progress.at(-1)).toBe(12);
    expect(readResults(resultsFile)).toHaveLength(12);

    // A run killed mid-write leaves a cut last line: it is dropped, and the rest resumes.
    appendFileSync(resultsFile, '{"dataset":"toy-a","method":"dir');
    const callsBefore = generator.calls.length;
    const second = await runEvaluation({ ...common });
    expect(second.resumed).toBe(12);
    expect(second.evaluated).toBe(4); // a2 with each method
    expect(second.records.map((r) => `${r.dataset}/${r.method}/${r.id}`).slice(0, 3)).toEqual([
      'toy-a/direct/a0',
      'toy-a/direct/a1',
      'toy-a/direct/a2',
    ]);
    expect(generator.calls.length).toBeGreaterThan(callsBefore);
    const lines = readFileSync(resultsFile, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(16);
    expect(new Set(lines.map((l) => JSON.parse(l).id + JSON.parse(l).method)).size).toBe(16);

    const third = await runEvaluation({ ...common });
    expect(third.evaluated).toBe(0);

    const table = buildResultsTable(third.records);
    expect(table.datasets).toEqual(['toy-a', 'toy-b']);
    const em = (method: string, dataset: string) =>
      table.rows.find((r) => r.method === method)!.cells[dataset]!.exactMatch;
    expect(em('direct', 'toy-a')).toBeCloseTo(1 / 3); // only a1's gold is Rockstar North
    expect(em('agent', 'toy-a')).toBeCloseTo(1 / 3); // the search always finds Hot Coffee mod
    expect(em('agent', 'toy-b')).toBe(1); // "the Hot Coffee Mod" normalises to "hot coffee mod"
    const agent = table.rows.find((r) => r.method === 'agent')!;
    expect(agent.averageExactMatch).toBeCloseTo((1 / 3 + 1) / 2);
    expect(agent.cells['toy-a']!.searches).toBe(1);
    const markdown = renderMarkdown(table);
    expect(markdown).toContain('| method | toy-a | toy-b | avg |');
    expect(markdown).toContain('| agent | 0.333 | 1.000 | 0.667 |');
    expect(renderHtml(table)).toContain('<th>toy-a</th>');
  });

  it('names the line of a damaged results file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr1-eval-bad-'));
    const resultsFile = join(dir, 'results.jsonl');
    writeFileSync(resultsFile, 'not json\n{"dataset":"x","method":"direct","id":"1"}\n');
    await expect(
      runEvaluation({ datasets, methods: ['direct'], generator: policy(), tokenizer, resultsFile }),
    ).rejects.toThrow(/results.jsonl:1/);
  });

  it('checks methods and sizes before running', async () => {
    const resultsFile = join(mkdtempSync(join(tmpdir(), 'sr1-eval-bad-')), 'r.jsonl');
    const base = { datasets, generator: policy(), tokenizer, resultsFile };
    await expect(runEvaluation({ ...base, methods: ['agent'] })).rejects.toThrow(/need a retriever/);
    await expect(runEvaluation({ ...base, methods: ['direct'], batchSize: 0 })).rejects.toThrow(/batchSize/);
    await expect(runEvaluation({ ...base, methods: ['direct'], limit: -1 })).rejects.toThrow(/limit/);
  });
});
