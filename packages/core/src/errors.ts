// The root of every error sr1 throws on purpose. A stable `code` lets callers branch without
// parsing messages; subclasses carry structured fields (file, line, field, flag) for bad input.

/** Base class of all sr1 errors. `code` is stable across versions; `message` is for people. */
export class Sr1Error extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Where a piece of bad input came from; every field optional, the message names what is known. */
export interface InputLocation {
  /** Path of the file the input was read from. */
  file?: string;
  /** 1-based line number inside `file`. */
  line?: number;
  /** Name of the field, option or tensor that is wrong (dotted path for nested fields). */
  field?: string;
  /** Command-line flag that carried the value, e.g. `--topk`. */
  flag?: string;
}

/** Bad user input: a value of the wrong type or range, a malformed file, an unknown name. */
export class InvalidInputError extends Sr1Error implements InputLocation {
  readonly file?: string;
  readonly line?: number;
  readonly field?: string;
  readonly flag?: string;
  readonly reason: string;
  constructor(location: InputLocation & { reason: string; code?: string }, options?: { cause?: unknown }) {
    super(location.code ?? 'invalid_input', formatLocation(location) + location.reason, options);
    if (location.file !== undefined) this.file = location.file;
    if (location.line !== undefined) this.line = location.line;
    if (location.field !== undefined) this.field = location.field;
    if (location.flag !== undefined) this.flag = location.flag;
    this.reason = location.reason;
  }
}

/** `file:line: field `x`: ` style prefix naming whatever is known about where input went wrong. */
export function formatLocation(location: InputLocation): string {
  const parts: string[] = [];
  if (location.file !== undefined) {
    parts.push(location.line !== undefined ? `${location.file}:${location.line}` : location.file);
  } else if (location.line !== undefined) {
    parts.push(`line ${location.line}`);
  }
  if (location.flag !== undefined) parts.push(`flag ${location.flag}`);
  if (location.field !== undefined) parts.push(`field '${location.field}'`);
  return parts.length > 0 ? `${parts.join(': ')}: ` : '';
}

/** Looks a variant up by name in a typed registry; an unknown name lists the valid ones. */
export function lookupVariant<T>(registry: Record<string, T>, name: string, what: string, field?: string): T {
  if (Object.hasOwn(registry, name)) return registry[name] as T;
  const valid = Object.keys(registry).join(', ');
  throw new InvalidInputError({
    code: 'unknown_variant',
    ...(field !== undefined ? { field } : {}),
    reason: `unknown ${what} '${name}'. Supported: [${valid}]`,
  });
}

/**
 * A `Generator` (@sr1/spec) returned something other than what the interface promises. Here, not in
 * rollout, so that the providers (the engine's adapters) and the loop throw the same class.
 */
export class GeneratorContractError extends Sr1Error {
  constructor(message: string) {
    super('generator_contract', message);
  }
}

/** A `Retriever` (@sr1/spec) returned something other than what the interface promises. */
export class RetrieverContractError extends Sr1Error {
  constructor(message: string) {
    super('retriever_contract', message);
  }
}
