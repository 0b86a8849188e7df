// Greedy evaluation of an agent on questions: the Search-R1 loop (or a direct / RAG baseline) with
// EM per question, searches per question and a breakdown by question type.

import { exactMatch } from '@sr1/reward';
import {
  buildPrompt,
  type Generator,
  informationBlock,
  type PromptOptions,
  type Retriever,
  type RolloutConfig,
  runRollout,
  type Tokenizer,
  type Trajectory,
} from '@sr1/rollout';

/** A question as the FlashRAG JSONL has it, with an optional type (the toy world's). */
export interface EvalQuestion {
  id: string;
  question: string;
  golden_answers: string[];
  type?: string;
}

export type EvalMethod = 'direct' | 'rag' | 'agent';

export interface EvalRecord {
  id: string;
  type: string;
  method: EvalMethod;
  exactMatch: number;
  searches: number;
  answer: string | null;
  trajectory: Trajectory;
}

export interface EvalSummary {
  method: EvalMethod;
  count: number;
  exactMatch: number;
  searchesPerQuestion: number;
  byType: Record<string, { count: number; exactMatch: number; searchesPerQuestion: number }>;
}

/**
 * Evaluates one method greedily: 'agent' runs the Search-R1 loop; 'direct' allows no search
 * (a single final round); 'rag' puts the top-k passages for the question after the prompt, then
 * one round without search.
 */
export async function evaluate(
  method: EvalMethod,
  questions: readonly EvalQuestion[],
  parts: {
    generator: Generator;
    retriever: Retriever;
    tokenizer: Tokenizer;
    rollout: Partial<RolloutConfig>;
    prompt?: PromptOptions;
  },
  batchSize = 32,
): Promise<EvalRecord[]> {
  const records: EvalRecord[] = [];
  for (let start = 0; start < questions.length; start += batchSize) {
    const chunk = questions.slice(start, start + batchSize);
    let prompts = chunk.map((q) => buildPrompt(q.question, parts.tokenizer, parts.prompt));
    if (method === 'rag') {
      const hits = await parts.retriever.search(
        chunk.map((q) => q.question),
        parts.rollout.topk ?? 3,
      );
      prompts = prompts.map((prompt, i) => prompt + informationBlock(hits[i] ?? []));
    }
    const trajectories = await runRollout(
      chunk.map((q, i) => ({ id: q.id, promptTokenIds: parts.tokenizer.encode(prompts[i]!) })),
      {
        generator: parts.generator,
        retriever: parts.retriever,
        tokenizer: parts.tokenizer,
        config: { ...parts.rollout, temperature: 0, ...(method === 'agent' ? {} : { maxTurns: 0 }) },
      },
    );
    trajectories.forEach((trajectory, i) => {
      const question = chunk[i]!;
      records.push({
        id: question.id,
        type: question.type ?? 'all',
        method,
        // The generated answer action, not the last <answer> in the text: the inserted invalid-action
        // message itself contains "<answer> and </answer>".
        exactMatch: trajectory.answer === null ? 0 : exactMatch(trajectory.answer, question.golden_answers),
        searches: trajectory.searches.length,
        answer: trajectory.answer,
        trajectory,
      });
    });
  }
  return records;
}

export function summarize(method: EvalMethod, records: readonly EvalRecord[]): EvalSummary {
  const mean = (list: readonly EvalRecord[], pick: (r: EvalRecord) => number) =>
    list.length === 0 ? 0 : list.reduce((sum, r) => sum + pick(r), 0) / list.length;
  const byType: EvalSummary['byType'] = {};
  for (const type of [...new Set(records.map((r) => r.type))].sort()) {
    const list = records.filter((r) => r.type === type);
    byType[type] = {
      count: list.length,
      exactMatch: mean(list, (r) => r.exactMatch),
      searchesPerQuestion: mean(list, (r) => r.searches),
    };
  }
  return {
    method,
    count: records.length,
    exactMatch: mean(records, (r) => r.exactMatch),
    searchesPerQuestion: mean(records, (r) => r.searches),
    byType,
  };
}
