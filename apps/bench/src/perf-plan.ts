// What `sr1-bench perf` can run here: probes for the peers and inputs each benchmark needs
// (PyTorch, FAISS, node-llama-cpp, the shared data, the model config), and the pure decision of
// which selected benchmarks run and why the others are skipped.

import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { PerfBenchmarkId } from './perf-report.js';

const run = promisify(execFile);

/** Whether a Python interpreter imports a module, and which version it has. */
export interface PythonModuleProbe {
  /** The interpreter as given (a path or a name on PATH). */
  python: string;
  /** `sys.executable`, symlinks resolved: two names for one interpreter are one peer. */
  executable?: string;
  version?: string;
  /** Why the import failed; absent when it worked. */
  error?: string;
}

/** Everything the plan depends on, gathered by `probeEnvironment`. */
export interface PerfEnvironment {
  /** One probe per PyTorch interpreter to measure against, in the order given. */
  torch: PythonModuleProbe[];
  faiss: PythonModuleProbe;
  llamaCpp: {
    dir: string;
    /** packages/model/scripts/llama-cpp-speed.mjs, or null when this checkout has none. */
    script: string | null;
    /** node-llama-cpp's version in `dir`, or null when it is not installed there. */
    version: string | null;
  };
  data: { dir: string; corpus: boolean };
  /** An index folder given with --index, or null to build one from the data. */
  index: string | null;
  trainConfig: { file: string; exists: boolean };
}

/** A PyTorch interpreter that imports torch. */
export interface TorchPeer {
  python: string;
  executable: string;
  version: string;
}

export type PlannedBenchmark =
  | { benchmark: PerfBenchmarkId; status: 'run'; notes: string[] }
  | { benchmark: PerfBenchmarkId; status: 'skip'; reason: string };

export interface PerfPlan {
  benchmarks: PlannedBenchmark[];
  /** The distinct PyTorch peers the train benchmark measures against. */
  torchPeers: TorchPeer[];
}

const TORCH_REMEDY = 'apt-get install python3-torch libopenblas0-pthread, or pass --torch-python';
const FAISS_REMEDY = 'apt-get install python3-faiss, or pass --faiss-python';

/** The working torch interpreters, one per distinct executable, and why the others are left out. */
export function distinctTorchPeers(probes: readonly PythonModuleProbe[]): {
  peers: TorchPeer[];
  unavailable: string[];
} {
  const peers: TorchPeer[] = [];
  const unavailable: string[] = [];
  for (const probe of probes) {
    if (probe.error !== undefined || probe.version === undefined || probe.executable === undefined) {
      unavailable.push(`${probe.python}: ${probe.error ?? 'no torch version reported'}`);
    } else if (!peers.some((peer) => peer.executable === probe.executable)) {
      peers.push({ python: probe.python, executable: probe.executable, version: probe.version });
    }
  }
  return { peers, unavailable };
}

/** Decides, for each selected benchmark in order, whether it runs here or why not. */
export function planPerf(selected: readonly PerfBenchmarkId[], environment: PerfEnvironment): PerfPlan {
  const torch = distinctTorchPeers(environment.torch);
  const data = environment.data;
  const noData = data.corpus
    ? null
    : `no corpus.jsonl in ${data.dir} (pass --data with the shared data folder)`;
  const decide = (benchmark: PerfBenchmarkId): PlannedBenchmark => {
    const skip = (reason: string): PlannedBenchmark => ({ benchmark, status: 'skip', reason });
    const go = (notes: string[] = []): PlannedBenchmark => ({ benchmark, status: 'run', notes });
    switch (benchmark) {
      case 'train':
        if (!environment.trainConfig.exists) {
          return skip(`no model config ${environment.trainConfig.file} (pass --train-config)`);
        }
        if (torch.peers.length === 0) {
          return skip(`PyTorch peer missing (${torch.unavailable.join('; ')}); ${TORCH_REMEDY}`);
        }
        return go(torch.unavailable.map((line) => `left out ${line}`));
      case 'llama-cpp':
      case 'engine':
        if (environment.llamaCpp.script === null) {
          return skip('packages/model/scripts/llama-cpp-speed.mjs is not in this checkout');
        }
        if (environment.llamaCpp.version === null) {
          const dir = environment.llamaCpp.dir;
          return skip(
            `llama.cpp peer missing: node-llama-cpp is not installed in ${dir} ` +
              `(mkdir -p ${dir} && cd ${dir} && npm install --no-save node-llama-cpp@3.21.1, or pass --llamacpp)`,
          );
        }
        return go();
      case 'ledger':
        return go(); // random weights, no peer to install
      case 'index':
        if (environment.index !== null) return skip(`--index given: the benchmarks use ${environment.index}`);
        return noData === null ? go() : skip(noData);
      case 'hnsw': {
        if (noData !== null) return skip(noData);
        const faiss = environment.faiss;
        if (faiss.error !== undefined) {
          return skip(`FAISS peer missing (${faiss.python}: ${faiss.error}); ${FAISS_REMEDY}`);
        }
        return go();
      }
      case 'server':
        return noData === null ? go() : skip(noData);
    }
  };
  return { benchmarks: selected.map(decide), torchPeers: torch.peers };
}

/** Imports `module` with `python` and reports its version; never throws. */
export async function probePythonModule(
  python: string,
  module: 'torch' | 'faiss',
): Promise<PythonModuleProbe> {
  const script = `import json, sys, ${module}; print(json.dumps({"executable": sys.executable, "version": ${module}.__version__}))`;
  try {
    const { stdout } = await run(python, ['-c', script], { timeout: 120_000 });
    const reported = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      executable?: string;
      version?: string;
    };
    const executable =
      reported.executable !== undefined && existsSync(reported.executable)
        ? realpathSync(reported.executable)
        : reported.executable;
    return {
      python,
      ...(executable !== undefined ? { executable } : {}),
      ...(reported.version !== undefined ? { version: String(reported.version) } : {}),
    };
  } catch (error) {
    const failure = error as { code?: unknown; stderr?: string; message?: string };
    if (failure.code === 'ENOENT') return { python, error: 'not found' };
    const stderr = failure.stderr ?? '';
    if (stderr.includes(`No module named '${module}'`)) return { python, error: `no module '${module}'` };
    const last = stderr.trim().split('\n').at(-1);
    return { python, error: last !== undefined && last !== '' ? last : (failure.message ?? String(error)) };
  }
}

export interface ProbeOptions {
  torchPythons: readonly string[];
  faissPython: string;
  /** null: the bench script's default folder. */
  llamacppDir: string | null;
  llamaCppScript: string | null;
  dataDir: string;
  index: string | null;
  trainConfig: string;
  /** Only the peers of these benchmarks are probed (importing torch takes seconds). */
  selected: readonly PerfBenchmarkId[];
}

/** Gathers the environment for `planPerf`, probing only what the selected benchmarks need. */
export async function probeEnvironment(options: ProbeOptions): Promise<PerfEnvironment> {
  const wants = (benchmark: PerfBenchmarkId) => options.selected.includes(benchmark);
  const torch = wants('train')
    ? await Promise.all(options.torchPythons.map((python) => probePythonModule(python, 'torch')))
    : [];
  const faiss = wants('hnsw')
    ? await probePythonModule(options.faissPython, 'faiss')
    : { python: options.faissPython, error: 'not probed' };
  let llamacppDir = options.llamacppDir ?? 'the default folder';
  let llamaVersion: string | null = null;
  if (options.llamaCppScript !== null) {
    // The script owns its default folder and how it finds node-llama-cpp there.
    const script = (await import(pathToFileURL(options.llamaCppScript).href)) as {
      LLAMA_CPP_SPEED_DEFAULTS: { llamacppDir: string };
      llamaCppVersion(dir: string): string | null;
    };
    llamacppDir = options.llamacppDir ?? script.LLAMA_CPP_SPEED_DEFAULTS.llamacppDir;
    if (wants('llama-cpp') || wants('engine')) llamaVersion = script.llamaCppVersion(llamacppDir);
  }
  return {
    torch,
    faiss,
    llamaCpp: { dir: llamacppDir, script: options.llamaCppScript, version: llamaVersion },
    data: { dir: options.dataDir, corpus: existsSync(join(options.dataDir, 'corpus.jsonl')) },
    index: options.index,
    trainConfig: { file: options.trainConfig, exists: existsSync(options.trainConfig) },
  };
}
