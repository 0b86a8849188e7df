// @sr1/core: the error hierarchy, seeded randomness and progress display shared by every sr1 package.

export type { InputLocation } from './errors.js';
export { formatLocation, InvalidInputError, lookupVariant, Sr1Error } from './errors.js';
export type { ProgressInfo } from './progress-display.js';
export { formatProgressInfo, ProgressDisplay } from './progress-display.js';
export type { Rng, RngState } from './rng.js';
export { createRng, Xoshiro128 } from './rng.js';
