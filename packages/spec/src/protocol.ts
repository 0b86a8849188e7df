// The Search-R1 protocol's one piece of text that both sides of it must share byte for byte: the
// instruction the published checkpoints were trained on. `@sr1/rollout`'s `'search-r1'` prompt
// template puts the question after it; `@sr1/model` trains its fixture tokenizer on it.

/**
 * Search-R1's instruction (Jin et al., 2025, the `make_prefix(template_type='base')` template of
 * scripts/data_process/nq_search.py), verbatim — typo ("as your want") included — up to the
 * `Question: ` that follows it.
 */
export const SEARCH_R1_INSTRUCTION =
  'Answer the given question. You must conduct reasoning inside <think> and </think> first every time you get new information. ' +
  'After reasoning, if you find you lack some knowledge, you can call a search engine by <search> query </search> and it will return the top searched results between <information> and </information>. ' +
  'You can search as many times as your want. ' +
  'If you find no further external knowledge needed, you can directly provide the answer inside <answer> and </answer>, without detailed illustrations. For example, <answer> Beijing </answer>. ';
