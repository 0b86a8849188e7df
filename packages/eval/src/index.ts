// @sr1/eval: evaluates Search-R1 agents and baselines on the seven QA benchmarks — datasets in
// FlashRAG JSONL or reference parquet, greedy direct/CoT/RAG/agent runs with resumable JSONL
// results, the paper-style EM table, and retrieval quality (recall@k, answer-in-passages).
// biome-ignore-all assist/source/organizeImports: exports are grouped by topic, not sorted by path

// Datasets
export type { EvalDataset, EvalQuestion, SupportingPassages } from './datasets.js';
export {
  DatasetFormatError,
  loadDatasets,
  questionFromPrompt,
  readJsonlDataset,
  readParquetDatasets,
  readSupportingPassages,
  resolveDatasetFiles,
} from './datasets.js';

// Methods
export type { EvalMethod, EvalRecord, MethodParts } from './methods.js';
export {
  BASELINE_PROMPTS,
  EVAL_METHOD_NAMES,
  EVAL_METHODS,
  evaluateMethod,
  methodRetrieves,
  parseMethod,
  runMethod,
} from './methods.js';

// Runs
export type { EvaluationOptions, EvaluationProgress, EvaluationResult } from './run.js';
export { EVALUATION_DEFAULTS, readResults, recordKey, runEvaluation, selectQuestions } from './run.js';
// The progress display lives in @sr1/core (one for training and evaluation); re-exported for callers.
export { ProgressDisplay } from '@sr1/core';

// Reports
export type { EvalSummary, HtmlReportOptions, ResultCell, ResultRow, ResultsTable } from './report.js';
export { buildResultsTable, renderHtml, renderMarkdown, summarizeByType } from './report.js';

// Errors
export { EvalInvariantError } from './errors.js';

// Retrieval quality
export type { RetrievalQuality, RetrievalQualityOptions } from './retrieval-quality.js';
export {
  answerInText,
  measureRetrievalQuality,
  RETRIEVAL_QUALITY_DEFAULTS,
  renderRetrievalQualityMarkdown,
} from './retrieval-quality.js';
