// Typed errors of the training loops that are not bad input: a broken promise between the loop
// and the engine it drives, reported with what was expected.

import { Sr1Error } from '@sr1/core';

/** A model or engine broke a promise the loop relies on (e.g. a critic that returned no values). */
export class TrainInvariantError extends Sr1Error {
  constructor(message: string) {
    super('train_invariant', message);
  }
}
