// The build every package shares: ESM only, with declarations and source maps, for Node 20.

import type { Options } from 'tsup';

export function library(entry: Options['entry'], overrides: Options = {}): Options {
  return { entry, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'node20', ...overrides };
}
