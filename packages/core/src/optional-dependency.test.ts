import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { describeError, exitCodeOf } from './cli.js';
import {
  importOptional,
  isModuleNotFound,
  MissingDependencyError,
  requireOptional,
} from './optional-dependency.js';

const require = createRequire(import.meta.url);
// A name no registry holds, so resolution fails for real (no mock of the resolver).
const absent = 'sr1-absent-package-for-tests';

describe('optional dependencies', () => {
  it('turns a real failed dynamic import into a typed error naming the package', async () => {
    const error = await importOptional(absent, 'HNSW search', () => import(absent)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MissingDependencyError);
    expect((error as MissingDependencyError).code).toBe('missing_dependency');
    expect((error as MissingDependencyError).packageName).toBe(absent);
    expect(describeError(error)).toBe(
      `HNSW search needs the optional package ${absent}, which is not installed: npm install ${absent}`,
    );
    expect(exitCodeOf(error)).toBe(2);
  });

  it('does the same for a real failed require', () => {
    expect(() => requireOptional(absent, 'running graphs', () => require(absent))).toThrow(
      MissingDependencyError,
    );
  });

  it('returns the module when it is installed', async () => {
    const fs = await importOptional('node:fs', 'files', () => import('node:fs'));
    expect(typeof fs.readFileSync).toBe('function');
    expect(requireOptional('vitest', 'tests', () => require('vitest/package.json')).name).toBe('vitest');
  });

  it('rethrows other failures, and a missing module inside the package, unchanged', async () => {
    const broken = new Error('boom');
    await expect(importOptional('x', 'f', () => Promise.reject(broken))).rejects.toBe(broken);
    const inner = Object.assign(new Error("Cannot find module 'long' imported from x"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    expect(isModuleNotFound(inner, 'onnxruntime-node')).toBe(false);
    expect(() =>
      requireOptional('onnxruntime-node', 'f', () => {
        throw inner;
      }),
    ).toThrow(inner);
  });
});
