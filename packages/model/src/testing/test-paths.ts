// Paths to the fixtures this package's tests use (not part of the public API).

import { fileURLToPath } from 'node:url';

/** The committed small tokenizer (assets/tokenizer-small). */
export const SMALL_TOKENIZER_DIR = fileURLToPath(new URL('../../assets/tokenizer-small/', import.meta.url));

/** The shared data folder beside the repository (`../shared/data`). */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
