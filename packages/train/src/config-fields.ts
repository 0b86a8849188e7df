// Small typed readers for JSON configs: each takes the dotted path of the field it reads, so a bad
// value is reported as `config.json: field 'training.lr': expected a number > 0, got "fast"`.

import { readFile } from 'node:fs/promises';
import { InvalidInputError } from '@sr1/core';

export type JsonObject = Record<string, unknown>;

/** Reads fields of one JSON object, reporting errors against `file` and the dotted `path`. */
export class ConfigReader {
  constructor(
    readonly file: string | undefined,
    private readonly value: JsonObject,
    private readonly path: string = '',
  ) {}

  private fieldPath(name: string): string {
    return this.path === '' ? name : `${this.path}.${name}`;
  }

  fail(name: string, reason: string): never {
    throw new InvalidInputError({
      code: 'config_invalid',
      ...(this.file !== undefined ? { file: this.file } : {}),
      field: this.fieldPath(name),
      reason,
    });
  }

  has(name: string): boolean {
    return this.value[name] !== undefined;
  }

  /** A nested object (an empty one when absent). */
  object(name: string): ConfigReader {
    const value = this.value[name];
    if (value === undefined) return new ConfigReader(this.file, {}, this.fieldPath(name));
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail(name, `expected an object, got ${describe(value)}`);
    }
    return new ConfigReader(this.file, value as JsonObject, this.fieldPath(name));
  }

  number(
    name: string,
    fallback: number | undefined,
    rule: { min?: number; max?: number; integer?: boolean; exclusiveMin?: boolean } = {},
  ): number {
    const value = this.value[name] ?? fallback;
    if (value === undefined) this.fail(name, 'is required');
    if (typeof value !== 'number' || !Number.isFinite(value))
      this.fail(name, `expected a number, got ${describe(value)}`);
    if (rule.integer === true && !Number.isInteger(value))
      this.fail(name, `expected an integer, got ${value}`);
    if (rule.min !== undefined && (rule.exclusiveMin === true ? value <= rule.min : value < rule.min)) {
      this.fail(
        name,
        `expected a number ${rule.exclusiveMin === true ? '>' : '≥'} ${rule.min}, got ${value}`,
      );
    }
    if (rule.max !== undefined && value > rule.max)
      this.fail(name, `expected a number ≤ ${rule.max}, got ${value}`);
    return value;
  }

  string(name: string, fallback?: string): string {
    const value = this.value[name] ?? fallback;
    if (value === undefined) this.fail(name, 'is required');
    if (typeof value !== 'string' || value === '')
      this.fail(name, `expected a non-empty string, got ${describe(value)}`);
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.has(name) ? this.string(name) : undefined;
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.value[name] ?? fallback;
    if (typeof value !== 'boolean') this.fail(name, `expected true or false, got ${describe(value)}`);
    return value;
  }

  choice<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.value[name] ?? fallback;
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(name, `expected one of [${choices.join(', ')}], got ${JSON.stringify(value)}`);
    }
    return value as T;
  }

  /** Fails on keys the schema does not know (typos must not be silently ignored). */
  rejectUnknown(known: readonly string[]): void {
    for (const key of Object.keys(this.value)) {
      if (!known.includes(key)) this.fail(key, `unknown field; expected one of [${known.join(', ')}]`);
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Reads a JSON config file into an object; a missing file, bad JSON or a non-object names the file. */
export async function readConfigFile(file: string): Promise<JsonObject> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `invalid JSON (${(error as Error).message})`;
    throw new InvalidInputError({ code: 'config_invalid', file, reason });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidInputError({ code: 'config_invalid', file, reason: 'expected a JSON object' });
  }
  return json as JsonObject;
}
