// Runs graphs with onnxruntime-node. CPU by default (intra-op threads configurable); 'cuda' only
// when ORT's CUDA provider libraries of the same version sit next to the binding, else a typed
// DeviceUnavailableError that says what is missing and how to supply it.

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InvalidInputError, requireOptional } from '@sr1/core';
import type * as ort from 'onnxruntime-common';
import type { DType } from './dtype.js';
import { ORT_TYPE } from './dtype.js';
import { DeviceUnavailableError, GraphBuildError } from './errors.js';
import type { ConstantData, Graph, Tensor } from './graph.js';
import { serializeGraph } from './onnx-model.js';

/** Where a session runs. */
export type Device = 'cpu' | 'cuda';

/** Options of `createSession`. */
export interface SessionOptions {
  device?: Device; // 'cpu': always available; 'cuda' needs ORT's CUDA provider libraries
  /** Intra-op threads (default: ORT's choice, all cores). */
  threads?: number;
  /** Outputs to compile (default: the graph's declared outputs). */
  outputs?: readonly Tensor[];
  opset?: number;
  /** Run @sr1/graph's own optimiser before ORT's (default true). */
  optimize?: boolean;
  /** ORT's CPU memory arena (default true: faster; false returns memory between runs). */
  memoryArena?: boolean;
  /** Write an ORT profile (chrome-trace JSON) with this file prefix; for finding slow ops. */
  profileFilePrefix?: string;
  /** ORT graph optimisation level (default 'all'). */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Graph inputs to hold as initializers, by name (see `SerializeOptions.initializers`); they are then not fed. */
  initializers?: Readonly<Record<string, ConstantData>>;
}

/** Host data for one input or output (float16: its bits, a Uint16Array, as onnxruntime-node takes them). */
export interface HostValue {
  dtype: DType;
  shape: readonly number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;
}

/**
 * Bytes that a run moves between host and device. onnxruntime-node has CPU tensors only (no IO
 * binding), so on the CUDA provider every fed input is copied host→device and every fetched output
 * device→host at every run; initializers are copied once, when the session is created, and stay
 * device-resident. The ledger counts these bytes on every device (on CPU they are what a GPU run
 * would copy), so a design that moves no weights per step can be checked without a GPU.
 */
export interface TransferLedger {
  /** Runs counted since the session was created or the ledger last reset. */
  runs: number;
  /** Bytes of every input fed (host→device), summed over the runs. */
  bytesIn: number;
  /** Bytes of every output fetched (device→host), summed over the runs. */
  bytesOut: number;
  /** The latest run's bytes; zeros before the first run. */
  lastRun: { bytesIn: number; bytesOut: number };
  /** Bytes of the graph's initializers (copied once per session); undefined for a session built from bytes or a file. */
  initializerBytes: number | undefined;
}

/** A compiled graph. `run` accepts host values or ORT tensors and returns host values by output name. */
export interface GraphSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly device: Device;
  run(
    feeds: Record<string, HostValue | ort.Tensor>,
    outputNames?: readonly string[],
  ): Promise<Record<string, HostValue>>;
  /** Like `run` but returns ORT tensors (no copy), for feeding back (e.g. KV caches). */
  runRaw(
    feeds: Record<string, HostValue | ort.Tensor>,
    outputNames?: readonly string[],
  ): Promise<Record<string, ort.Tensor>>;
  /** Host↔device bytes counted per run (see `TransferLedger`); a snapshot, not a live object. */
  readonly ledger: TransferLedger;
  /** Zeroes the run counts (`runs`, `bytesIn`, `bytesOut`, `lastRun`); keeps `initializerBytes`. */
  resetLedger(): void;
  release(): Promise<void>;
}

/** Bytes a tensor's data occupies (what crossing PCIe would copy). */
function tensorBytes(tensor: ort.Tensor): number {
  const data = tensor.data as unknown;
  if (ArrayBuffer.isView(data)) return data.byteLength;
  throw new GraphBuildError(
    `cannot count the bytes of a ${tensor.type} tensor held off the host (${tensor.location})`,
  );
}

const require = createRequire(import.meta.url);

/**
 * onnxruntime-node (≈290 MB of native binaries) is an optional peer dependency, loaded with the
 * first session; building, differentiating and serialising graphs never needs it. The types come
 * from onnxruntime-common, which it re-exports.
 */
function loadOrt(): typeof ort {
  return requireOptional('onnxruntime-node', 'running ONNX graphs (@sr1/graph)', () =>
    require('onnxruntime-node'),
  );
}

/** The folder holding onnxruntime-node's native binding (where provider libraries must live). */
export function ortBindingDir(): string {
  const pkg = dirname(
    requireOptional('onnxruntime-node', 'running ONNX graphs (@sr1/graph)', () =>
      require.resolve('onnxruntime-node/package.json'),
    ),
  );
  return join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
}

/** What the CUDA execution provider needs that is not present; empty when all is there. */
export function missingCudaLibraries(
  bindingDir: string = ortBindingDir(),
  searchPath: readonly string[] = [bindingDir, ...cudaSearchPath()],
): string[] {
  const missing: string[] = [];
  for (const lib of ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so']) {
    if (!existsSync(join(bindingDir, lib))) missing.push(`${lib} in ${bindingDir}`);
  }
  // The provider of onnxruntime-node's own CUDA install links CUDA 12; a CUDA-13 build of the same
  // ORT version (apps/bench/gpu's kit) links the .so.13 names. Either major satisfies the check.
  for (const prefixes of [
    ['libcudart.so.12', 'libcudart.so.13'],
    ['libcublas.so.12', 'libcublas.so.13'],
    ['libcudnn.so.9'],
  ]) {
    const found = searchPath.some((dir) => {
      try {
        return readdirSync(dir).some((f) => prefixes.some((prefix) => f.startsWith(prefix)));
      } catch {
        return false;
      }
    });
    if (!found)
      missing.push(
        `${prefixes.join(' or ')}* (CUDA runtime) on ${searchPath.length > 0 ? searchPath.join(':') : 'the library path'}`,
      );
  }
  return missing;
}

function cudaSearchPath(): string[] {
  const fromEnv = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  return [
    ...fromEnv,
    '/usr/local/cuda/lib64',
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib64',
    '/lib/x86_64-linux-gnu',
  ];
}

const CUDA_REMEDY =
  'On a machine with internet run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (fetches the CUDA 12 ' +
  'provider of the same ORT version), or copy libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so ' +
  'from an onnxruntime-gpu 1.30 build next to onnxruntime_binding.node, and put CUDA 12 + cuDNN 9 libraries on LD_LIBRARY_PATH.';

function toOrt(name: string, value: HostValue | ort.Tensor): ort.Tensor {
  const { Tensor } = loadOrt();
  if (value instanceof Tensor) return value;
  const host = value as HostValue;
  if (host.dtype === 'bfloat16')
    throw new InvalidInputError({
      field: name,
      reason: 'onnxruntime-node has no bfloat16 tensors: feed float32 and cast inside the graph',
    });
  return new Tensor(ORT_TYPE[host.dtype], host.data as never, [...host.shape]);
}

function fromOrt(tensor: ort.Tensor): HostValue {
  const type = tensor.type as string;
  const dtype = (Object.entries(ORT_TYPE).find(([, v]) => v === type)?.[0] ?? 'float32') as DType;
  return { dtype, shape: [...tensor.dims], data: tensor.data as HostValue['data'] };
}

function checkFeed(name: string, tensor: ort.Tensor, expected: Tensor): void {
  const describe = () => `${tensor.type} (${tensor.dims.join(', ')})`;
  const wanted = `${ORT_TYPE[expected.dtype]} (${expected.shape.join(', ')})`;
  if (tensor.type !== ORT_TYPE[expected.dtype] || tensor.dims.length !== expected.shape.length) {
    throw new InvalidInputError({ field: name, reason: `fed ${describe()}, the graph declares ${wanted}` });
  }
  expected.shape.forEach((dim, i) => {
    if (typeof dim === 'number' && tensor.dims[i] !== dim) {
      throw new InvalidInputError({ field: name, reason: `fed ${describe()}, the graph declares ${wanted}` });
    }
  });
}

/**
 * Compiles `graph`, ONNX bytes, or an ONNX file (a path: the way to load a model whose external
 * data sits beside it, see `writeModel`) into an onnxruntime-node session.
 */
export async function createSession(
  graphOrModel: Graph | Uint8Array | string,
  options: SessionOptions = {},
): Promise<GraphSession> {
  const device = options.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'cuda')
    throw new GraphBuildError(`unknown device '${device}'. Supported: [cpu, cuda]`);
  const bytes =
    graphOrModel instanceof Uint8Array || typeof graphOrModel === 'string'
      ? graphOrModel
      : serializeGraph(graphOrModel, {
          ...(options.initializers !== undefined ? { initializers: options.initializers } : {}),
          ...(options.outputs !== undefined ? { outputs: options.outputs } : {}),
          ...(options.opset !== undefined ? { opset: options.opset } : {}),
          ...(options.optimize !== undefined ? { optimize: options.optimize } : {}),
        });
  if (device === 'cuda') {
    const missing = missingCudaLibraries();
    if (missing.length > 0) throw new DeviceUnavailableError({ device, missing, remedy: CUDA_REMEDY });
  }
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: options.optimization ?? 'all',
    interOpNumThreads: 1,
  };
  if (options.threads !== undefined) sessionOptions.intraOpNumThreads = options.threads;
  if (options.memoryArena !== undefined) sessionOptions.enableCpuMemArena = options.memoryArena;
  if (options.profileFilePrefix !== undefined) {
    sessionOptions.enableProfiling = true;
    sessionOptions.profileFilePrefix = options.profileFilePrefix;
  }
  const runtime = loadOrt(); // outside the try: a missing package is not a CUDA problem
  let session: ort.InferenceSession;
  try {
    session =
      typeof bytes === 'string'
        ? await runtime.InferenceSession.create(bytes, sessionOptions)
        : await runtime.InferenceSession.create(bytes, sessionOptions);
  } catch (cause) {
    if (device === 'cuda') {
      throw new DeviceUnavailableError(
        { device, missing: [`a working CUDA provider (${String(cause)})`], remedy: CUDA_REMEDY },
        { cause },
      );
    }
    throw cause;
  }
  const inputNames = [...session.inputNames];
  // Declared input types (when built from a Graph) so a bad feed is reported by name, not by ORT.
  const declared = new Map<string, Tensor>();
  if (typeof graphOrModel !== 'string' && !(graphOrModel instanceof Uint8Array))
    for (const input of graphOrModel.inputs) declared.set(input.tensor.name, input.tensor);
  let initializerBytes: number | undefined;
  if (typeof graphOrModel !== 'string' && !(graphOrModel instanceof Uint8Array)) {
    initializerBytes = 0;
    for (const { value } of graphOrModel.initializers.values()) initializerBytes += value.data.byteLength;
    for (const value of Object.values(options.initializers ?? {})) initializerBytes += value.data.byteLength;
  }
  const counts = { runs: 0, bytesIn: 0, bytesOut: 0, lastIn: 0, lastOut: 0 };
  const runRaw = async (feeds: Record<string, HostValue | ort.Tensor>, outputNames?: readonly string[]) => {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of inputNames) {
      const value = feeds[name];
      if (value === undefined)
        throw new InvalidInputError({ field: name, reason: 'session input was not fed' });
      const tensor = toOrt(name, value);
      const expected = declared.get(name);
      if (expected !== undefined) checkFeed(name, tensor, expected);
      ortFeeds[name] = tensor;
    }
    const result =
      outputNames === undefined ? await session.run(ortFeeds) : await session.run(ortFeeds, [...outputNames]);
    let bytesIn = 0;
    for (const tensor of Object.values(ortFeeds)) bytesIn += tensorBytes(tensor);
    let bytesOut = 0;
    for (const tensor of Object.values(result)) bytesOut += tensorBytes(tensor);
    counts.runs += 1;
    counts.bytesIn += bytesIn;
    counts.bytesOut += bytesOut;
    counts.lastIn = bytesIn;
    counts.lastOut = bytesOut;
    return result as Record<string, ort.Tensor>;
  };
  return {
    inputNames,
    outputNames: [...session.outputNames],
    device,
    get ledger(): TransferLedger {
      return {
        runs: counts.runs,
        bytesIn: counts.bytesIn,
        bytesOut: counts.bytesOut,
        lastRun: { bytesIn: counts.lastIn, bytesOut: counts.lastOut },
        initializerBytes,
      };
    },
    resetLedger() {
      Object.assign(counts, { runs: 0, bytesIn: 0, bytesOut: 0, lastIn: 0, lastOut: 0 });
    },
    runRaw,
    async run(feeds, outputNames) {
      const raw = await runRaw(feeds, outputNames);
      const out: Record<string, HostValue> = {};
      for (const [name, tensor] of Object.entries(raw)) out[name] = fromOrt(tensor);
      return out;
    },
    release: async () => {
      if (options.profileFilePrefix !== undefined) session.endProfiling();
      await session.release();
    },
  };
}
