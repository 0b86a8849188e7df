// The committed bin/ shims of the four CLIs (sr1-retriever, sr1-model, sr1-train, sr1-bench): npm
// links them at install time, before any build, so each must explain a missing build in one line
// and otherwise hand its arguments to dist/cli.js's main(). Run for real on copies in a temp dir.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const SHIMS = {
  'sr1-retriever': 'packages/retriever',
  'sr1-model': 'packages/model',
  'sr1-train': 'apps/trainer',
  'sr1-bench': 'apps/bench',
} as const;

/** A package folder holding only the shim (and optionally a dist/cli.js with the given source). */
function fakePackage(name: keyof typeof SHIMS, cli?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'sr1-shim-'));
  mkdirSync(join(dir, 'bin'));
  cpSync(join(repo, SHIMS[name], 'bin', `${name}.js`), join(dir, 'bin', `${name}.js`));
  if (cli !== undefined) {
    mkdirSync(join(dir, 'dist'));
    writeFileSync(join(dir, 'dist', 'cli.js'), cli);
  }
  return dir;
}

function run(file: string, args: string[] = []) {
  const result = spawnSync(process.execPath, [file, ...args], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('bin shims', () => {
  it('are the same program apart from the name, and each package.json points at its shim', () => {
    const texts = Object.entries(SHIMS).map(([name, dir]) => {
      const pkg = JSON.parse(readFileSync(join(repo, dir, 'package.json'), 'utf8'));
      expect(pkg.bin).toEqual({ [name]: `bin/${name}.js` });
      expect(pkg.files).toContain('bin');
      return readFileSync(join(repo, dir, 'bin', `${name}.js`), 'utf8').replaceAll(name, 'NAME');
    });
    expect(new Set(texts).size).toBe(1);
    expect(texts[0]!.startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it.each(Object.keys(SHIMS) as (keyof typeof SHIMS)[])('%s without a build: one line, exit 2', (name) => {
    const dir = fakePackage(name);
    const result = run(join(dir, 'bin', `${name}.js`), ['--help']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `${name}: not built: run npm run build (missing ${join(dir, 'dist', 'cli.js')})\n`,
    );
  });

  it('a dist/cli.js without main(): one line, exit 2', () => {
    const dir = fakePackage('sr1-model', 'export const program = {};\n');
    const result = run(join(dir, 'bin', 'sr1-model.js'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(
      /^sr1-model: .*dist\/cli\.js does not export main\(\); rebuild with npm run build\n$/,
    );
  });

  it('hands the arguments to main(), also through a symlink as in node_modules/.bin', () => {
    const dir = fakePackage(
      'sr1-train',
      'export async function main(argv) { process.stdout.write(JSON.stringify(argv)); process.exitCode = 3; }\n',
    );
    const direct = run(join(dir, 'bin', 'sr1-train.js'), ['sft', '-h']);
    expect(direct).toMatchObject({ code: 3, stdout: '["sft","-h"]', stderr: '' });
    mkdirSync(join(dir, '.bin'));
    symlinkSync(join(dir, 'bin', 'sr1-train.js'), join(dir, '.bin', 'sr1-train'));
    expect(run(join(dir, '.bin', 'sr1-train'), ['--help'])).toMatchObject({ code: 3, stdout: '["--help"]' });
  });
});
