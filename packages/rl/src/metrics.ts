// Metrics every RL function returns beside its value, keyed by namespaced names
// (`actor/pg_clipfrac`, `critic/vf_loss`) as veRL logs them, so a trainer can merge and log them as is.

/** Scalar metrics keyed by namespaced names. */
export type Metrics = Record<string, number>;

/** `<prefix>/mean`, `/max`, `/min` over the positions where `mask` is non-zero (0s when none). */
export function describeMasked(prefix: string, values: ArrayLike<number>, mask: ArrayLike<number>): Metrics {
  let sum = 0;
  let count = 0;
  let max = -Infinity;
  let min = Infinity;
  for (let i = 0; i < values.length; i++) {
    if (mask[i] === 0) continue;
    const v = values[i]!;
    sum += v;
    count += 1;
    if (v > max) max = v;
    if (v < min) min = v;
  }
  if (count === 0) return { [`${prefix}/mean`]: 0, [`${prefix}/max`]: 0, [`${prefix}/min`]: 0 };
  return { [`${prefix}/mean`]: sum / count, [`${prefix}/max`]: max, [`${prefix}/min`]: min };
}
