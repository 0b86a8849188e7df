// A project that installed @sr1/retriever without an optional parser: `ingestFolder` stops with a
// MissingDependencyError naming the package, writes no index, and does not file the PDF under
// "skipped" as if it were broken. The real code path — this package's built dist in a fresh
// node_modules that has its dependencies but not `unpdf`, run by Node in a child process.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const PACKAGE = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const REPO_MODULES = join(PACKAGE, '../../node_modules');
const work = mkdtempSync(join(tmpdir(), 'sr1-missing-parser-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A node_modules with @sr1/retriever (its dist copied, so its imports resolve from here) and its dependencies, without `unpdf`. */
function consumerWithoutUnpdf(): string {
  const project = join(work, 'project');
  const modules = join(project, 'node_modules');
  const own = join(modules, '@sr1', 'retriever');
  mkdirSync(own, { recursive: true });
  cpSync(join(PACKAGE, 'package.json'), join(own, 'package.json'));
  cpSync(join(PACKAGE, 'dist'), join(own, 'dist'), { recursive: true });
  const dependencies = Object.keys(
    (
      JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')) as {
        dependencies: Record<string, string>;
      }
    ).dependencies,
  );
  for (const name of dependencies) {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    symlinkSync(join(REPO_MODULES, name), join(modules, name), 'dir');
  }
  expect(existsSync(join(modules, 'unpdf'))).toBe(false);
  return project;
}

describe('ingestFolder without an optional parser installed', () => {
  it('stops with MissingDependencyError naming unpdf and writes no index', async () => {
    const project = consumerWithoutUnpdf();
    const docs = join(work, 'docs');
    mkdirSync(docs);
    cpSync(join(FIXTURES, 'faq.txt'), join(docs, 'faq.txt')); // plain text needs no parser package
    cpSync(join(FIXTURES, 'safety-manual.pdf'), join(docs, 'safety-manual.pdf'));
    const out = join(work, 'index');
    const script = `
      import { ingestFolder } from '@sr1/retriever';
      try {
        await ingestFolder({ docs: ${JSON.stringify(docs)}, out: ${JSON.stringify(out)}, kind: 'bm25' });
        console.log(JSON.stringify({ finished: true }));
      } catch (error) {
        console.log(JSON.stringify({ name: error.constructor.name, code: error.code, packageName: error.packageName, message: error.message }));
      }`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: project,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toMatchObject({
      name: 'MissingDependencyError',
      code: 'missing_dependency',
      packageName: 'unpdf',
    });
    expect(result.message).toContain('npm install unpdf');
    expect(existsSync(out)).toBe(false);
  });
});
