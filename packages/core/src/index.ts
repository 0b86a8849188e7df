// @sr1/core: the error hierarchy and seeded randomness shared by every sr1 package.

export type { InputLocation } from './errors.js';
export { formatLocation, InvalidInputError, lookupVariant, Sr1Error } from './errors.js';
export type { Rng, RngState } from './rng.js';
export { createRng, Xoshiro128 } from './rng.js';
