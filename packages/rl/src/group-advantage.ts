// Outcome advantages computed within groups of responses to the same prompt: GRPO's group
// normalisation and RLOO's leave-one-out baseline. Groups are keyed by a unique prompt id; the
// reference keyed them by a per-dataset index that restarts at 0 in merged data sets, so
// unrelated questions could share a group.

import { RlInputError } from './errors.js';
import { checkNumber, type Float64Matrix, type Matrix, sameShape } from './matrix.js';
import { describeMasked, type Metrics } from './metrics.js';
import { checkScores } from './outcome-reward.js';

export interface GroupAdvantageInputs {
  /** One outcome reward per response, shape (batch). */
  scores: ArrayLike<number>;
  /** Which prompt each response answers, shape (batch); equal ids form a group. */
  promptIds: readonly string[];
  /** 1 = real response token (inserted ones included), 0 = padding; shape (batch, responseLength). Each gets the advantage. */
  tokenMask: Matrix;
}

export interface GrpoOptions {
  /** Added to the group std before dividing; the reference's value. */
  epsilon?: number;
  /**
   * Divide by the group std (GRPO, Shao et al. 2024, arXiv 2402.03300). `false` keeps only the
   * mean baseline, as Dr.GRPO (Liu et al. 2025, "Understanding R1-Zero-Like Training",
   * arXiv 2503.20783) recommends to remove the difficulty bias.
   */
  normalizeByStd?: boolean;
}

export interface GroupAdvantageOutputs {
  /** Each response's scalar advantage broadcast over its masked tokens; shape (batch, responseLength). */
  advantages: Float64Matrix;
  /** The same matrix (outcome estimators have no separate value target), as veRL returns. */
  returns: Float64Matrix;
  /** Per-response scalar advantages, shape (batch). */
  sequenceAdvantages: Float64Array;
  metrics: Metrics;
}

/** Response indices per prompt id, in first-seen order. */
function groupIndices(promptIds: readonly string[], batch: number): Map<string, number[]> {
  if (!Array.isArray(promptIds))
    throw new RlInputError('promptIds', 'expected an array of strings, shape (batch)');
  if (promptIds.length !== batch) {
    throw new RlInputError(
      'promptIds',
      `expected ${batch} prompt ids (one per response), got ${promptIds.length}`,
    );
  }
  const groups = new Map<string, number[]>();
  promptIds.forEach((id, i) => {
    if (typeof id !== 'string')
      throw new RlInputError(`promptIds[${i}]`, `expected a string, got ${typeof id}`);
    const members = groups.get(id);
    if (members === undefined) groups.set(id, [i]);
    else members.push(i);
  });
  return groups;
}

function broadcast(
  name: string,
  perSequence: Float64Array,
  tokenMask: Matrix,
  batch: number,
  length: number,
  groups: Map<string, number[]>,
): GroupAdvantageOutputs {
  const data = new Float64Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      const m = tokenMask.data[b * length + t]!;
      if (m !== 0) data[b * length + t] = perSequence[b]! * m;
    }
  }
  let singletons = 0;
  for (const members of groups.values()) if (members.length === 1) singletons += 1;
  return {
    advantages: { shape: [batch, length], data },
    returns: { shape: [batch, length], data: data.slice() },
    sequenceAdvantages: perSequence,
    metrics: {
      ...describeMasked('critic/advantages', data, tokenMask.data),
      [`${name}/groups`]: groups.size,
      [`${name}/singleton_groups`]: singletons,
    },
  };
}

/**
 * GRPO outcome advantage (Shao et al. 2024): Â_i = (r_i − mean(group)) / (std(group) + ε), with
 * the unbiased std as `torch.std`. A group of one keeps its raw score (mean 0, std 1), as veRL's
 * `compute_grpo_outcome_advantage` does. Metric `grpo/zero_std_groups` counts groups whose
 * responses all scored the same (no learning signal).
 */
export function computeGrpoAdvantages(inputs: GroupAdvantageInputs & GrpoOptions): GroupAdvantageOutputs {
  const { scores, promptIds, tokenMask } = inputs;
  const [batch, length] = sameShape([tokenMask, 'tokenMask']);
  checkScores(scores, batch);
  const epsilon = checkNumber(inputs.epsilon ?? 1e-6, 'epsilon', 0); // the reference's ε
  const normalizeByStd = inputs.normalizeByStd ?? true; // GRPO as published; false = Dr.GRPO
  const groups = groupIndices(promptIds, batch);
  const perSequence = new Float64Array(batch);
  let zeroStdGroups = 0;
  for (const members of groups.values()) {
    let mean = 0;
    let std = 1;
    if (members.length > 1) {
      mean = members.reduce((sum, i) => sum + scores[i]!, 0) / members.length;
      const squares = members.reduce((sum, i) => sum + (scores[i]! - mean) ** 2, 0);
      std = Math.sqrt(squares / (members.length - 1));
      if (std === 0) zeroStdGroups += 1;
    }
    for (const i of members) {
      perSequence[i] = normalizeByStd ? (scores[i]! - mean) / (std + epsilon) : scores[i]! - mean;
    }
  }
  const outputs = broadcast('grpo', perSequence, tokenMask, batch, length, groups);
  outputs.metrics['grpo/zero_std_groups'] = zeroStdGroups;
  return outputs;
}

/**
 * RLOO advantage (Ahmadian et al. 2024, "Back to Basics: Revisiting REINFORCE Style Optimization
 * for Learning from Human Feedback in LLMs", arXiv 2402.14740): each response's baseline is the
 * mean score of the *other* responses to its prompt, Â_i = r_i − (Σ_{j≠i} r_j)/(n − 1). A group
 * of one keeps its raw score, as veRL's `compute_rloo_outcome_advantage` does.
 */
export function computeRlooAdvantages(inputs: GroupAdvantageInputs): GroupAdvantageOutputs {
  const { scores, promptIds, tokenMask } = inputs;
  const [batch, length] = sameShape([tokenMask, 'tokenMask']);
  checkScores(scores, batch);
  const groups = groupIndices(promptIds, batch);
  const perSequence = new Float64Array(batch);
  for (const members of groups.values()) {
    const n = members.length;
    const total = members.reduce((sum, i) => sum + scores[i]!, 0);
    for (const i of members)
      perSequence[i] = n === 1 ? scores[i]! : scores[i]! - (total - scores[i]!) / (n - 1);
  }
  return broadcast('rloo', perSequence, tokenMask, batch, length, groups);
}
