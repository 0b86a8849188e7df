// Heavy native packages (onnxruntime-node, hnswlib-node, @huggingface/transformers) are optional
// peer dependencies of the sr1 packages that use them: loaded on first use, and when absent the
// caller gets one typed error naming the package to install instead of a resolver stack trace.

import { Sr1Error } from './errors.js';

/** An optional peer dependency a feature needs is not installed. */
export class MissingDependencyError extends Sr1Error {
  /** The npm package to install, e.g. `hnswlib-node`. */
  readonly packageName: string;
  /** What needed it, e.g. `HNSW search`. */
  readonly feature: string;
  constructor(packageName: string, feature: string, options?: { cause?: unknown }) {
    super(
      'missing_dependency',
      `${feature} needs the optional package ${packageName}, which is not installed: npm install ${packageName}`,
      options,
    );
    this.packageName = packageName;
    this.feature = feature;
  }
}

/** True when `error` says that `packageName` itself (not something inside it) cannot be resolved. */
export function isModuleNotFound(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && message.includes(`'${packageName}'`);
}

/**
 * Loads an optional dependency with `load` — `() => import('hnswlib-node')`, written in the
 * package that declares the dependency so it resolves from there — and turns "not installed" into
 * a MissingDependencyError. Any other failure (a broken native build) is rethrown as it is.
 */
export async function importOptional<T>(
  packageName: string,
  feature: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isModuleNotFound(error, packageName))
      throw new MissingDependencyError(packageName, feature, { cause: error });
    throw error;
  }
}

/** The synchronous form of `importOptional`, for CommonJS packages: `() => require('onnxruntime-node')`. */
export function requireOptional<T>(packageName: string, feature: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (isModuleNotFound(error, packageName))
      throw new MissingDependencyError(packageName, feature, { cause: error });
    throw error;
  }
}
