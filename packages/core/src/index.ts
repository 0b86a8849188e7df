// @sr1/core: the error hierarchy, seeded randomness, progress display, command-line layer and Python's
// exact whitespace rules, shared by every sr1 package.

export type { CliIo, CliProgram, CommandSpec, FlagSpec, FlagSpecs, FlagValues, SubCommand } from './cli.js';
export {
  CliUsageError,
  describeError,
  exitCodeOf,
  formatCommandHelp,
  formatProgramHelp,
  HelpRequested,
  isMainModule,
  parseCommand,
  processIo,
  runCli,
  runProcess,
} from './cli.js';
export type { InputLocation } from './errors.js';
export {
  formatLocation,
  GeneratorContractError,
  InvalidInputError,
  lookupVariant,
  RetrieverContractError,
  Sr1Error,
} from './errors.js';
export {
  importOptional,
  isModuleNotFound,
  MissingDependencyError,
  requireOptional,
} from './optional-dependency.js';
export type { ProgressInfo } from './progress-display.js';
export { formatProgressInfo, ProgressDisplay } from './progress-display.js';
export { isPythonWhitespace, pythonSplit, pythonStrip } from './python-text.js';
export type { Rng, RngState } from './rng.js';
export { createRng, Xoshiro128 } from './rng.js';
