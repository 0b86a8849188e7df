// Typed errors for bad input to the RL maths: a shape mismatch or an out-of-range coefficient is a
// caller bug that must name the tensor or option at fault, never a NaN three steps later.

import { InvalidInputError } from '@sr1/core';

/** A tensor of the wrong shape or an option out of range, named by `field`. */
export class RlInputError extends InvalidInputError {
  constructor(field: string, reason: string) {
    super({ code: 'rl_input', field, reason });
  }
}
