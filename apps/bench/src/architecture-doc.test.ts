// docs/architecture.md's `| package | depends on | role |` table must say what the package.json
// files say: every workspace has one row, each row names exactly the @sr1 packages its workspace
// depends on, and every third-party dependency or peer (optional peers as optional). A dependency
// added or dropped without the doc, or a doc edit without the dependency, fails here.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOC = 'docs/architecture.md';

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optionalDependencies?: Record<string, string>;
}

interface Workspace {
  /** `packages/core`, `apps/bench`. */
  dir: string;
  manifest: Manifest;
}

interface Row {
  /** The first cell with backticks removed: `@sr1/core` or `apps/bench`. */
  label: string;
  dependsOn: string;
  line: number;
}

/** The workspaces the root package.json names (`packages/*`, `apps/*`). */
function readWorkspaces(): Workspace[] {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  const found: Workspace[] = [];
  for (const pattern of root.workspaces) {
    if (!pattern.endsWith('/*')) throw new Error(`workspace pattern '${pattern}'; expected 'folder/*'`);
    const parent = pattern.slice(0, -2);
    for (const entry of readdirSync(join(ROOT, parent)).sort()) {
      const manifestPath = join(ROOT, parent, entry, 'package.json');
      if (!existsSync(manifestPath)) continue;
      found.push({
        dir: `${parent}/${entry}`,
        manifest: JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest,
      });
    }
  }
  return found;
}

/** The rows of the first table whose header is `| package | depends on | role |`. */
function readTable(markdown: string): Row[] {
  const lines = markdown.split('\n');
  const header = lines.findIndex((line) => /^\|\s*package\s*\|\s*depends on\s*\|/.test(line));
  if (header < 0) throw new Error(`${DOC} has no '| package | depends on | role |' table`);
  const rows: Row[] = [];
  for (let i = header + 2; i < lines.length && lines[i]!.startsWith('|'); i++) {
    // Cells split on `|` outside backticks (a role may quote `sft | rl`).
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (const char of lines[i]!.slice(1)) {
      if (char === '`') quoted = !quoted;
      if (char === '|' && !quoted) {
        cells.push(cell.trim());
        cell = '';
      } else {
        cell += char;
      }
    }
    rows.push({ label: (cells[0] ?? '').replaceAll('`', ''), dependsOn: cells[1] ?? '', line: i + 1 });
  }
  return rows;
}

/** Package-name-like words of a cell: `core`, `@huggingface/jinja`, `onnxruntime-node`. */
function words(text: string): Set<string> {
  return new Set(text.match(/@?[a-z0-9][a-z0-9._-]*(?:\/[a-z0-9][a-z0-9._-]*)?/gi) ?? []);
}

/** The cell without parenthetical asides and code spans: what it lists, not what it explains. */
function listed(text: string): string {
  let out = text.replace(/`[^`]*`/g, ' ');
  for (let previous = ''; previous !== out; ) {
    previous = out;
    out = out.replace(/\([^()]*\)/g, ' ');
  }
  return out;
}

const INTERNAL = '@sr1/';

/** What a manifest declares: internal packages, third-party ones, and which peers are optional. */
function declared(manifest: Manifest): { internal: string[]; external: string[]; optionalPeers: string[] } {
  const names = new Set([
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const all = [...names].sort();
  return {
    internal: all.filter((name) => name.startsWith(INTERNAL)),
    // @types/* are type declarations, not dependencies a reader of the architecture cares about.
    external: all.filter((name) => !name.startsWith(INTERNAL) && !name.startsWith('@types/')),
    optionalPeers: Object.entries(manifest.peerDependenciesMeta ?? {})
      .filter(([, meta]) => meta.optional === true)
      .map(([name]) => name)
      .sort(),
  };
}

/** Everything wrong with one row, as sentences; empty when the row is true. */
function rowMismatches(
  row: Row,
  workspace: Workspace,
  internalNames: Set<string>,
  externalNames: Set<string>,
) {
  const problems: string[] = [];
  const { internal, external, optionalPeers } = declared(workspace.manifest);
  const listedWords = words(listed(row.dependsOn));
  const documentedInternal = new Set<string>();
  for (const word of listedWords) {
    const name = word.startsWith(INTERNAL) ? word : `${INTERNAL}${word}`;
    if (internalNames.has(name)) documentedInternal.add(name);
  }
  const missing = internal.filter((name) => !documentedInternal.has(name));
  const extra = [...documentedInternal].filter((name) => !internal.includes(name)).sort();
  if (missing.length > 0) problems.push(`depends on ${missing.join(', ')} but the row does not say so`);
  if (extra.length > 0)
    problems.push(`the row lists ${extra.join(', ')} but package.json has no such dependency`);

  const allWords = words(row.dependsOn.replaceAll('`', ''));
  const unnamed = external.filter((name) => !allWords.has(name));
  if (unnamed.length > 0)
    problems.push(
      `depends on ${unnamed.join(', ')} but the row does not name ${unnamed.length === 1 ? 'it' : 'them'}`,
    );
  const stray = [...listedWords].filter((word) => externalNames.has(word) && !external.includes(word)).sort();
  if (stray.length > 0)
    problems.push(`the row names ${stray.join(', ')}, which package.json does not declare`);
  if (optionalPeers.length > 0 && !/optional/.test(row.dependsOn))
    problems.push(
      `${optionalPeers.join(', ')} ${optionalPeers.length === 1 ? 'is an optional peer' : 'are optional peers'}; the row should say so`,
    );
  return problems;
}

const workspaces = readWorkspaces();
const rows = readTable(readFileSync(join(ROOT, DOC), 'utf8'));
/** A row's label names a workspace by package name (`@sr1/core`) or by folder (`apps/bench`). */
const workspaceOf = (row: Row) =>
  workspaces.find((workspace) => workspace.manifest.name === row.label || workspace.dir === row.label);
const internalNames = new Set(
  workspaces.map((workspace) => workspace.manifest.name).filter((name) => name.startsWith(INTERNAL)),
);
const externalNames = new Set(workspaces.flatMap((workspace) => declared(workspace.manifest).external));

describe(`${DOC}'s dependency table`, () => {
  it('has one row per workspace and no row for anything else', () => {
    const labels = rows.map((row) => row.label);
    const unknown = rows
      .filter((row) => workspaceOf(row) === undefined)
      .map((row) => `${row.label} (line ${row.line})`);
    const absent = workspaces
      .filter((workspace) => !rows.some((row) => workspaceOf(row) === workspace))
      .map((workspace) => `${workspace.manifest.name} (${workspace.dir})`);
    const twice = labels.filter((label, i) => labels.indexOf(label) !== i);
    expect({ unknown, absent, twice }).toEqual({ unknown: [], absent: [], twice: [] });
  });

  it.each(rows.filter((row) => workspaceOf(row) !== undefined).map((row) => [row.label, row] as const))(
    '%s: the row equals package.json',
    (_label, row) => {
      const workspace = workspaceOf(row)!;
      expect(rowMismatches(row, workspace, internalNames, externalNames), `${DOC}:${row.line}`).toEqual([]);
    },
  );

  it('reads the table it checks (the parser finds the packages it must)', () => {
    expect(rows.length).toBeGreaterThanOrEqual(workspaces.length);
    const core = rows.find((row) => row.label === '@sr1/core');
    expect(core).toBeDefined();
    expect(listed('core, graph (its `Generator`/`Tokenizer` (nested) contract), zod')).not.toMatch(
      /Generator|nested/,
    );
    expect([
      ...words(listed('core (servers on node:http); hnswlib-node and @huggingface/jinja as peers')),
    ]).toEqual(['core', 'hnswlib-node', 'and', '@huggingface/jinja', 'as', 'peers']);
  });
});
