// The one command-line layer of sr1's four CLIs (sr1-retriever, sr1-model, sr1-train, sr1-bench):
// typed flags with ranges and choices, `--help`/`-h` on every command, and one-line typed errors
// instead of stack traces. Built on node:util's parseArgs.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidInputError, Sr1Error } from './errors.js';

/** One flag of a command. `string` values stay strings; numbers are parsed and range-checked. */
export type FlagSpec =
  | { type: 'boolean'; description: string; short?: string }
  | {
      type: 'string';
      description: string;
      placeholder?: string;
      required?: boolean;
      default?: string;
      multiple?: boolean;
      short?: string;
    }
  | {
      type: 'integer' | 'number';
      description: string;
      placeholder?: string;
      required?: boolean;
      default?: number;
      min?: number;
      max?: number;
      short?: string;
    }
  | {
      type: 'choice';
      choices: readonly string[];
      description: string;
      required?: boolean;
      default?: string;
      short?: string;
    };

export type FlagSpecs = Record<string, FlagSpec>;

/** Parsed value of one flag: required or defaulted flags are never `undefined`. */
type FlagValue<S extends FlagSpec> = S extends { type: 'boolean' }
  ? boolean
  : S extends { type: 'string'; multiple: true }
    ? string[]
    : S extends { type: 'integer' | 'number' }
      ? S extends { required: true } | { default: number }
        ? number
        : number | undefined
      : S extends { required: true } | { default: string }
        ? string
        : string | undefined;

export type FlagValues<F extends FlagSpecs> = { [K in keyof F]: FlagValue<F[K]> };

/** A command's flags and positionals, as the help text and the parser both see them. */
export interface CommandSpec<F extends FlagSpecs = FlagSpecs> {
  /** e.g. `sr1-retriever index`. */
  name: string;
  /** One line on what the command does. */
  summary: string;
  flags: F;
  /** Positional arguments, e.g. `{ name: 'QUESTION...', min: 1 }`; none are accepted when absent. */
  positionals?: { name: string; min?: number; max?: number };
  /** Extra lines printed after the flags. */
  notes?: string;
}

/** A command-line mistake: an unknown or malformed flag, a missing value. Exit code 2. */
export class CliUsageError extends InvalidInputError {
  constructor(flag: string, reason: string) {
    super({ code: 'cli_usage', flag, reason });
  }
}

/** Thrown by `parseCommand` when `--help` or `-h` was given; `runCli` prints `text` and exits 0. */
export class HelpRequested extends Sr1Error {
  readonly text: string;
  constructor(text: string) {
    super('help_requested', 'help requested');
    this.text = text;
  }
}

/** The help text of one command. */
export function formatCommandHelp(spec: CommandSpec): string {
  const lines = [`${spec.name} — ${spec.summary}`, '', `usage: ${spec.name}${usageFlags(spec)}`, ''];
  const entries = Object.entries(spec.flags).map(([name, flag]) => {
    const short = flag.short !== undefined ? `-${flag.short}, ` : '';
    return [`  ${short}--${name}${valueHint(flag)}`, describeFlag(flag)] as const;
  });
  entries.push(['  -h, --help', 'print this help and exit']);
  const width = Math.min(34, Math.max(...entries.map(([left]) => left.length)) + 2);
  for (const [left, right] of entries) {
    lines.push(
      left.length >= width ? `${left}\n${' '.repeat(width)}${right}` : `${left.padEnd(width)}${right}`,
    );
  }
  if (spec.notes !== undefined) lines.push('', spec.notes);
  return `${lines.join('\n')}\n`;
}

function usageFlags(spec: CommandSpec): string {
  let text = '';
  for (const [name, flag] of Object.entries(spec.flags)) {
    const part = `--${name}${valueHint(flag)}`;
    text += 'required' in flag && flag.required === true ? ` ${part}` : ` [${part}]`;
  }
  if (spec.positionals !== undefined) text += ` ${spec.positionals.name}`;
  return text;
}

function valueHint(flag: FlagSpec): string {
  switch (flag.type) {
    case 'boolean':
      return '';
    case 'choice':
      return ` ${flag.choices.join('|')}`;
    case 'integer':
      return ` ${flag.placeholder ?? 'N'}`;
    case 'number':
      return ` ${flag.placeholder ?? 'X'}`;
    case 'string':
      return ` ${flag.placeholder ?? 'VALUE'}`;
  }
}

function describeFlag(flag: FlagSpec): string {
  let text = flag.description;
  if ('default' in flag && flag.default !== undefined) text += ` (default ${flag.default})`;
  if (flag.type === 'string' && flag.multiple === true) text += ' (repeatable)';
  return text;
}

/**
 * Parses one command's arguments against its spec. `--help`/`-h` anywhere throws `HelpRequested`;
 * an unknown flag, a missing required flag, a number out of range or an unknown choice throws a
 * `CliUsageError` naming the flag.
 */
export function parseCommand<F extends FlagSpecs>(
  spec: CommandSpec<F>,
  args: readonly string[],
): { values: FlagValues<F>; positionals: string[] } {
  if (args.includes('--help') || args.includes('-h')) throw new HelpRequested(formatCommandHelp(spec));
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    options[name] = {
      type: flag.type === 'boolean' ? 'boolean' : 'string',
      ...(flag.type === 'string' && flag.multiple === true ? { multiple: true } : {}),
      ...(flag.short !== undefined ? { short: flag.short } : {}),
    };
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    const message = (error as Error).message;
    const flag = /'(-{1,2}[^' ,]+)/.exec(message)?.[1] ?? '(arguments)';
    throw new CliUsageError(
      flag,
      `${message.replace(/\. To specify a positional.*$/s, '')}; see ${spec.name} --help`,
    );
  }
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    values[name] = convertFlag(name, flag, parsed.values[name] as string | string[] | boolean | undefined);
  }
  const positionals = parsed.positionals;
  const allowed = spec.positionals;
  if (allowed === undefined && positionals.length > 0) {
    throw new CliUsageError(
      '(arguments)',
      `unexpected argument '${positionals[0]}'; see ${spec.name} --help`,
    );
  }
  if (allowed !== undefined) {
    if (positionals.length < (allowed.min ?? 0)) {
      throw new CliUsageError(allowed.name, `at least ${allowed.min} expected; see ${spec.name} --help`);
    }
    if (allowed.max !== undefined && positionals.length > allowed.max) {
      throw new CliUsageError(allowed.name, `at most ${allowed.max} expected, got ${positionals.length}`);
    }
  }
  return { values: values as FlagValues<F>, positionals };
}

function convertFlag(name: string, flag: FlagSpec, raw: string | string[] | boolean | undefined): unknown {
  const flagName = `--${name}`;
  if (flag.type === 'boolean') return raw === true;
  if (raw === undefined) {
    if ('required' in flag && flag.required === true) throw new CliUsageError(flagName, 'is required');
    if (flag.type === 'string' && flag.multiple === true) return [];
    return 'default' in flag ? flag.default : undefined;
  }
  if (flag.type === 'string') {
    if (Array.isArray(raw)) return raw;
    if (raw === '' && flag.required === true) throw new CliUsageError(flagName, 'must not be empty');
    return raw;
  }
  const text = String(raw);
  if (flag.type === 'choice') {
    if (!flag.choices.includes(text)) {
      throw new CliUsageError(flagName, `unknown value '${text}'. Supported: [${flag.choices.join(', ')}]`);
    }
    return text;
  }
  const value = text.trim() === '' ? Number.NaN : Number(text);
  const integer = flag.type === 'integer';
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new CliUsageError(flagName, `expected ${integer ? 'an integer' : 'a number'}, got '${text}'`);
  }
  if (flag.min !== undefined && value < flag.min) {
    throw new CliUsageError(flagName, `must be ≥ ${flag.min}, got ${text}`);
  }
  if (flag.max !== undefined && value > flag.max) {
    throw new CliUsageError(flagName, `must be ≤ ${flag.max}, got ${text}`);
  }
  return value;
}

/** Where a CLI writes; tests pass collectors, programs pass process.stdout/stderr. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** One subcommand of a program: its summary for the program's help and what runs it. */
export interface SubCommand {
  summary: string;
  run: (args: string[], io: CliIo) => Promise<void> | void;
}

/** A program with subcommands, e.g. `sr1-retriever`. */
export interface CliProgram {
  name: string;
  summary: string;
  commands: Record<string, SubCommand>;
  /** Lines printed after the command list. */
  notes?: string;
}

/** The program-level help: one line per subcommand. */
export function formatProgramHelp(program: CliProgram): string {
  const names = Object.keys(program.commands);
  const width = Math.max(...names.map((name) => name.length)) + 2;
  const lines = [
    `${program.name} — ${program.summary}`,
    '',
    `usage: ${program.name} <command> [flags]    (${program.name} <command> --help for its flags)`,
    '',
    ...names.map((name) => `  ${name.padEnd(width)}${program.commands[name]?.summary ?? ''}`),
  ];
  if (program.notes !== undefined) lines.push('', program.notes);
  return `${lines.join('\n')}\n`;
}

/**
 * Runs a program: dispatches to the subcommand, prints help on `--help`/`-h` (exit 0), and turns
 * every error into one line on stderr — exit 2 for usage and input errors, 1 for the rest. A stack
 * trace is printed only with SR1_DEBUG=1. Returns the exit code.
 */
export async function runCli(
  program: CliProgram,
  argv: readonly string[],
  io: CliIo = processIo,
): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io[name === undefined ? 'stderr' : 'stdout'](formatProgramHelp(program));
    return name === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(program.commands, name) ? program.commands[name] : undefined;
  if (command === undefined) {
    io.stderr(
      `${program.name}: unknown command '${name}'. Supported: [${Object.keys(program.commands).join(', ')}]; see ${program.name} --help\n`,
    );
    return 2;
  }
  try {
    await command.run(args, io);
    return 0;
  } catch (error) {
    if (error instanceof HelpRequested) {
      io.stdout(error.text);
      return 0;
    }
    io.stderr(`${program.name} ${name}: ${describeError(error)}\n`);
    if (process.env.SR1_DEBUG === '1' && error instanceof Error && error.stack !== undefined) {
      io.stderr(`${error.stack}\n`);
    }
    return exitCodeOf(error);
  }
}

/** Exit code for an error: 2 for bad input (usage, flags, files), 1 for anything else. */
export function exitCodeOf(error: unknown): number {
  if (error instanceof InvalidInputError) return 2;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'missing_dependency') return 2; // the machine lacks an optional package: not our bug
  if (typeof code === 'string' && SYSTEM_ERRORS[code] !== undefined) return 2;
  return 1;
}

const SYSTEM_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available on this machine',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EISDIR: 'is a directory, expected a file',
  ENOTDIR: 'not a directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on device',
  EMFILE: 'too many open files',
};

/**
 * One line describing an error: an Sr1Error's message, a system error with its path or address
 * ("EADDRINUSE: address already in use 127.0.0.1:8000"), or an unexpected error's message marked
 * as internal (SR1_DEBUG=1 shows its stack).
 */
export function describeError(error: unknown): string {
  if (error instanceof Sr1Error) return error.message;
  const system = error as {
    code?: unknown;
    path?: unknown;
    address?: unknown;
    port?: unknown;
    message?: unknown;
  };
  if (typeof system?.code === 'string' && SYSTEM_ERRORS[system.code] !== undefined) {
    const where =
      typeof system.path === 'string'
        ? ` ${system.path}`
        : typeof system.address === 'string'
          ? ` ${system.address}${typeof system.port === 'number' ? `:${system.port}` : ''}`
          : '';
    return `${system.code}: ${SYSTEM_ERRORS[system.code]}${where}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `internal error: ${message.split('\n')[0]} (set SR1_DEBUG=1 for the stack trace)`;
}

/**
 * True when the module at `moduleUrl` is the program node was started with, following symlinks
 * (npm's `.bin` links and `npx`), so a CLI module can both be imported by tests and run directly.
 */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** Runs a program as the process: sets `process.exitCode` from `runCli`. */
export function runProcess(
  program: CliProgram,
  argv: readonly string[] = process.argv.slice(2),
): Promise<void> {
  return runCli(program, argv).then((code) => {
    process.exitCode = code;
  });
}
