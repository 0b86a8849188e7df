// Evaluation's own invariants: a broken promise inside a run (a record missing after its batch, a
// search in a round that allows none) fails loudly with what was expected, never as a bad score.

import { Sr1Error } from '@sr1/core';

/** An internal invariant of an evaluation run broke; the message says what was expected. */
export class EvalInvariantError extends Sr1Error {
  constructor(message: string) {
    super('eval_invariant', message);
  }
}
