// The shared data folder this package's slow tests read (not part of the public API: a path into
// the repository, so it stays out of the published `testing` barrel).

import { fileURLToPath } from 'node:url';

/** The shared data folder beside the repository (`../shared/data`). */
export const SHARED_DATA_DIR = fileURLToPath(new URL('../../../../../shared/data/', import.meta.url));
