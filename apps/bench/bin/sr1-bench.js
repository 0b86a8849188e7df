#!/usr/bin/env node
// `sr1-bench`: the command npm links at install time (it exists before any build). It imports the
// built CLI module, dist/cli.js, and runs its exported main(); a missing build is one clear line.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const name = 'sr1-bench';
const cliUrl = new URL('../dist/cli.js', import.meta.url);
const cliFile = fileURLToPath(cliUrl);
if (!existsSync(cliUrl)) {
  console.error(`${name}: not built: run npm run build (missing ${cliFile})`);
  process.exit(2);
}
const cli = await import(cliUrl.href);
if (typeof cli.main !== 'function') {
  console.error(`${name}: ${cliFile} does not export main(); rebuild with npm run build`);
  process.exit(2);
}
await cli.main(process.argv.slice(2));
