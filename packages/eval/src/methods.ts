// The four evaluation methods of the Search-R1 paper's table (§4 baselines and the agent), each a
// greedy run of the rollout loop: direct, chain-of-thought and RAG get one round with search off;
// the agent gets the reference prompt and the full search loop.

import { InvalidInputError, lookupVariant } from '@sr1/core';
import { exactMatch, f1Score, substringExactMatch } from '@sr1/reward';
import {
  buildPrompt,
  formatDocuments,
  type Generator,
  informationBlock,
  type PromptOptions,
  passageContainsAnswer,
  type Retriever,
  RetrieverContractError,
  type RolloutConfig,
  type RolloutFinishReason,
  type RolloutPrompt,
  runAsyncRollout,
  runRollout,
  type SearchHit,
  type SearchRecord,
  type SessionGenerator,
  type TemplateSpec,
  type Tokenizer,
  type Trajectory,
  type TrajectorySource,
} from '@sr1/rollout';
import type { EvalQuestion } from './datasets.js';
import { EvalInvariantError } from './errors.js';

/** Names of the evaluation methods. */
export type EvalMethod = 'direct' | 'cot' | 'rag' | 'agent';

const ANSWER_FORMAT = 'For example, <answer> Beijing </answer>. '; // the reference prompt's example: every method answers in the same tags

/**
 * Baseline instructions, modelled on the paper's baselines (Search-R1 §4.1: direct inference,
 * chain-of-thought, RAG as in FlashRAG) and worded like the reference prompt so that the answer
 * lands in `<answer>` tags.
 */
export const BASELINE_PROMPTS = {
  direct: (question: string) =>
    'Answer the given question. Provide the answer inside <answer> and </answer> directly, without reasoning or detailed illustrations. ' +
    `${ANSWER_FORMAT}Question: ${question}\n`,
  cot: (question: string) =>
    'Answer the given question. Think step by step inside <think> and </think> first, then provide the answer inside <answer> and </answer>, without detailed illustrations. ' +
    `${ANSWER_FORMAT}Question: ${question}\n`,
  rag: (question: string, documents: readonly { contents: string }[]) =>
    'Answer the given question using the retrieved documents below. Provide the answer inside <answer> and </answer>, without detailed illustrations. ' +
    `${ANSWER_FORMAT}\n\nDocuments:\n${formatDocuments(documents)}\nQuestion: ${question}\n`,
};

interface MethodSpec {
  /** Whether the method needs a retriever. */
  retrieves: boolean;
  /** Rounds of the rollout loop (0 = one final round with search disabled). */
  searchTurns: 'none' | 'config';
}

/** The methods by name, in the paper's table order. */
export const EVAL_METHODS = {
  direct: { retrieves: false, searchTurns: 'none' }, // Direct inference
  cot: { retrieves: false, searchTurns: 'none' }, // Chain-of-thought (Wei et al., 2022)
  rag: { retrieves: true, searchTurns: 'none' }, // RAG: top-k for the question, retrieved once (Lewis et al., 2020)
  agent: { retrieves: true, searchTurns: 'config' }, // Search-R1 loop (Jin et al., 2025)
} satisfies Record<EvalMethod, MethodSpec>;

/** Method names in table order. */
export const EVAL_METHOD_NAMES = Object.keys(EVAL_METHODS) as EvalMethod[];

/** Checks a method name; an unknown one lists the valid ones. */
export function parseMethod(name: string): EvalMethod {
  lookupVariant(EVAL_METHODS, name, 'evaluation method', 'methods');
  return name as EvalMethod;
}

/** Whether `method` needs a retriever. */
export function methodRetrieves(method: EvalMethod): boolean {
  return EVAL_METHODS[method].retrieves;
}

/** One evaluated question: what was asked, the whole trajectory, the searches, the answer and its scores. */
export interface EvalRecord {
  dataset: string;
  method: EvalMethod;
  id: string;
  /** The question's type, when the dataset gives one (e.g. the toy world's). */
  type?: string;
  question: string;
  goldenAnswers: string[];
  /** The prompt text fed to the model (after the chat template). */
  prompt: string;
  /** Passages put into the prompt (RAG only): corpus id and score. */
  retrieved: { id: string; score: number }[];
  /** Generated text and inserted blocks, in order. */
  response: string;
  /** The `<answer>` action that ended the trajectory (generated text only), or null. */
  answer: string | null;
  exactMatch: 0 | 1;
  substringMatch: 0 | 1;
  f1: number;
  searches: SearchRecord[];
  /** Searches refused after the rollout's `maxSearches` was spent. */
  searchesRefused: number;
  /**
   * The passages the answer rests on: for the agent, every passage its searches returned (and
   * every document it opened), first seen first; for RAG, the passages put into the prompt. Each
   * with its title, its source when the index has one (file, headings, offsets) and whether it
   * contains the answer. Empty for direct and CoT. Absent in results files written before sources.
   */
  sources: TrajectorySource[];
  turns: number;
  invalidActions: number;
  finishReason: RolloutFinishReason;
  promptTokens: number;
  responseTokens: number;
  /** The whole trajectory (token ids and masks), only with `MethodParts.keepTrajectories`. */
  trajectory?: Trajectory;
}

/** What running a method needs: a `generator`, or `sessions` (one of them). */
export interface MethodParts {
  /** Batched generation: the lock-step loop (`runRollout`) runs the method. */
  generator?: Generator;
  /**
   * Or sessions (an engine worker's continuous-batching scheduler): the asynchronous loop
   * (`runAsyncRollout`) runs the method, each trajectory on its own, its KV kept between turns.
   * Greedy, so the records equal the lock-step loop's. Used when both are given.
   */
  sessions?: SessionGenerator;
  tokenizer: Tokenizer;
  /** Needed by 'rag' and 'agent'. */
  retriever?: Retriever;
  /** Rollout limits; temperature is forced to 0 (greedy, as the paper's evaluation). */
  rollout?: Partial<RolloutConfig>;
  /** Chat-template choice and question clean-up (the template itself is the method's). */
  prompt?: Omit<PromptOptions, 'template'>;
  /**
   * The agent's instruction; default the reference prompt ('search-r1'), or 'search-r1-hermes'
   * when `rollout.toolFormat` is 'hermes' (its tools then go into the prompt through the chat template).
   */
  agentTemplate?: TemplateSpec;
  /**
   * 'instruction' (default): the baselines get the paper's baseline instructions
   * (`BASELINE_PROMPTS`). 'agent': every method gets the agent's prompt — direct and CoT with
   * search off, RAG with its top-k passages appended as the `<information>` block a search would
   * have inserted — for a small model trained only on the agent's format, which follows no other
   * instruction (the trainer's toy demo).
   */
  baselinePrompts?: 'instruction' | 'agent';
  /** Keep each record's whole trajectory (`EvalRecord.trajectory`), for viewers; results files leave it out. */
  keepTrajectories?: boolean;
}

/** The prompt texts of a batch for a method (RAG searches once, with the questions as queries). */
async function promptsFor(
  method: EvalMethod,
  questions: readonly EvalQuestion[],
  parts: MethodParts,
  topk: number,
): Promise<{ prompts: string[]; retrieved: SearchHit[][] }> {
  const hermes = parts.rollout?.toolFormat === 'hermes';
  const build = (question: string, template: TemplateSpec, tools = false) =>
    buildPrompt(question, parts.tokenizer, {
      ...parts.prompt,
      template,
      ...(tools ? { tools: parts.rollout?.tools ?? ['search'] } : {}),
    });
  const agentTemplate = parts.agentTemplate ?? (hermes ? 'search-r1-hermes' : 'search-r1');
  if (parts.baselinePrompts === 'agent') {
    const prompts = questions.map((q) => build(q.question, agentTemplate, method === 'agent' && hermes));
    if (method !== 'rag') return { prompts, retrieved: questions.map(() => []) };
    const hits = await searchQuestions(questions, parts, method, topk);
    return { prompts: prompts.map((prompt, i) => prompt + informationBlock(hits[i] ?? [])), retrieved: hits };
  }
  if (method === 'rag') {
    const hits = await searchQuestions(questions, parts, method, topk);
    return {
      prompts: questions.map((q, i) =>
        build(q.question, (text) => BASELINE_PROMPTS.rag(text, hits[i] ?? [])),
      ),
      retrieved: hits,
    };
  }
  const template = method === 'agent' ? agentTemplate : BASELINE_PROMPTS[method];
  return {
    prompts: questions.map((q) => build(q.question, template, method === 'agent' && hermes)),
    retrieved: questions.map(() => []),
  };
}

/** RAG's one search, with the questions as queries: one result list per question. */
async function searchQuestions(
  questions: readonly EvalQuestion[],
  parts: MethodParts,
  method: EvalMethod,
  topk: number,
): Promise<SearchHit[][]> {
  const hits = await requireRetriever(parts, method).search(
    questions.map((q) => q.question),
    topk,
  );
  if (!Array.isArray(hits) || hits.length !== questions.length) {
    throw new RetrieverContractError(
      `expected ${questions.length} result lists, one per question, got ${hits?.length}`,
    );
  }
  return hits;
}

function requireRetriever(parts: MethodParts, method: EvalMethod): Retriever {
  if (parts.retriever === undefined) {
    throw new InvalidInputError({
      field: 'retriever',
      reason: `the '${method}' method needs a retriever (an index folder or a /retrieve URL); none was given`,
    });
  }
  return parts.retriever;
}

/**
 * Runs one method greedily on a batch of questions of one dataset (one rollout call, so the
 * generator sees the whole batch at once). Records come back in question order.
 */
export async function runMethod(
  method: EvalMethod,
  dataset: string,
  questions: readonly EvalQuestion[],
  parts: MethodParts,
): Promise<EvalRecord[]> {
  if (questions.length === 0) return [];
  const topk = parts.rollout?.topk ?? 3; // the paper's top-k
  const { prompts, retrieved } = await promptsFor(method, questions, parts, topk);
  const retriever = method === 'agent' ? requireRetriever(parts, method) : noSearch;
  const rolloutPrompts: RolloutPrompt[] = questions.map((q, i) => ({
    id: q.id,
    promptTokenIds: parts.tokenizer.encode(prompts[i]!),
  }));
  const loop = {
    retriever,
    tokenizer: parts.tokenizer,
    config: {
      ...parts.rollout,
      temperature: 0, // greedy, as the paper's evaluation
      topP: 1,
      // The baselines answer in the paper's tags, in one round without search.
      ...(EVAL_METHODS[method].searchTurns === 'none'
        ? { maxTurns: 0, toolFormat: 'tags' as const, tools: ['search' as const] }
        : {}),
    },
  };
  let trajectories: Trajectory[];
  if (parts.sessions !== undefined) {
    trajectories = await runAsyncRollout(rolloutPrompts, { ...loop, sessions: parts.sessions });
  } else if (parts.generator !== undefined) {
    trajectories = await runRollout(rolloutPrompts, { ...loop, generator: parts.generator });
  } else {
    throw new InvalidInputError({
      field: 'generator',
      reason: 'running a method needs a generator or sessions; neither was given',
    });
  }
  return trajectories.map((trajectory, i) => {
    const question = questions[i]!;
    // The answer action that ended the trajectory, parsed from generated text only: the response
    // also holds inserted text, and the invalid-action message itself contains "<answer> and </answer>".
    const answer = trajectory.answer;
    return {
      dataset,
      method,
      id: question.id,
      ...(question.type !== undefined ? { type: question.type } : {}),
      question: question.question,
      goldenAnswers: question.golden_answers,
      prompt: prompts[i]!,
      retrieved: (retrieved[i] ?? []).map((hit) => ({ id: hit.id, score: hit.score })),
      response: trajectory.text,
      answer,
      exactMatch: answer === null ? 0 : exactMatch(answer, question.golden_answers),
      substringMatch: answer === null ? 0 : substringExactMatch(answer, question.golden_answers),
      f1: answer === null ? 0 : f1Score(answer, question.golden_answers),
      searches: trajectory.searches,
      searchesRefused: trajectory.searchesRefused,
      sources:
        method === 'rag'
          ? (retrieved[i] ?? []).map((hit) => ({
              id: hit.id,
              title: hit.title,
              ...(hit.source ? { source: hit.source } : {}),
              turn: 0,
              via: 'search' as const,
              containsAnswer: passageContainsAnswer(`${hit.title}\n${hit.text}`, answer),
            }))
          : trajectory.sources,
      turns: trajectory.turns,
      invalidActions: trajectory.invalidActions,
      finishReason: trajectory.finishReason,
      promptTokens: trajectory.promptTokenIds.length,
      responseTokens: trajectory.responseTokenIds.length,
      ...(parts.keepTrajectories === true ? { trajectory } : {}),
    };
  });
}

/**
 * Runs `method` over any number of questions in memory, `batchSize` questions per rollout call
 * (`runMethod` each), records in question order. `runEvaluation` is the resumable run that
 * appends to a results file; this is for callers that keep the records (a trainer's validation).
 */
export async function evaluateMethod(
  method: EvalMethod,
  dataset: string,
  questions: readonly EvalQuestion[],
  parts: MethodParts,
  batchSize = 32, // the trainer's validation batch: a whole toy validation set in one or two calls
): Promise<EvalRecord[]> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new InvalidInputError({
      field: 'batchSize',
      reason: `expected a positive integer, got ${batchSize}`,
    });
  }
  const records: EvalRecord[] = [];
  for (let start = 0; start < questions.length; start += batchSize) {
    records.push(...(await runMethod(method, dataset, questions.slice(start, start + batchSize), parts)));
  }
  return records;
}

/** The retriever of the methods that must not search (they run only the final, search-free round). */
const noSearch: Retriever = {
  search: async () => {
    throw new EvalInvariantError('a search was issued in a round with search disabled');
  },
};
