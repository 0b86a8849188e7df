// Finite-difference checking of emitted gradients through ORT itself: the same graph is run at
// x ± h for sampled entries of each parameter and the central difference is compared with the
// gradient graph's output. Intended for float64 graphs (h ≈ 1e-6, relative tolerance ≈ 1e-6).

import type { Rng } from '@sr1/core';
import { createRng } from '@sr1/core';
import type { GradientOptions } from './autodiff.js';
import { gradients } from './autodiff.js';
import { GraphBuildError } from './errors.js';
import type { Graph, Tensor } from './graph.js';
import type { HostValue } from './session.js';
import { createSession } from './session.js';
import { staticSize } from './shape.js';

/** Options of `checkGradients`. */
export interface GradientCheckOptions extends GradientOptions {
  step?: number; // 1e-6: central differences in float64 are then accurate to ~1e-9 relative
  relativeTolerance?: number; // 1e-6: the bar for float64 checks
  absoluteTolerance?: number; // 1e-8: entries whose true gradient is ~0 are judged absolutely
  /** Entries checked per parameter; all when the parameter is smaller (default 12). */
  samplesPerInput?: number;
  rng?: Rng;
  threads?: number;
  /**
   * ORT optimisation level of the check sessions. Default 'basic': at 'extended'/'all' ORT fuses
   * x·sigmoid(x) into com.microsoft QuickGelu, which has only a float32 CPU kernel, so float64
   * graphs would not load.
   */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** One checked entry that failed. */
export interface GradientMismatch {
  input: string;
  index: number;
  analytic: number;
  numeric: number;
}

/** Outcome of `checkGradients`. */
export interface GradientCheckResult {
  ok: boolean;
  checked: number;
  maxAbsoluteError: number;
  /** max |a−n| / max(|a|,|n|) over entries whose magnitude exceeds the absolute tolerance. */
  maxRelativeError: number;
  failures: GradientMismatch[];
}

/**
 * A scalar loss Σ out ⊙ R with a seeded random R of out's (static) shape, so one scalar check
 * covers a random vector-Jacobian product of a tensor output.
 */
export function randomProjection(graph: Graph, output: Tensor, rng: Rng): Tensor {
  const size = staticSize(output.shape);
  if (size === undefined)
    throw new GraphBuildError(`randomProjection: '${output.name}' needs a static shape`);
  const values = Array.from({ length: size }, () => rng.next() * 2 - 1);
  const dims = output.shape as number[];
  const weights = graph.constant({
    dtype: output.dtype,
    shape: dims,
    data: output.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values),
  });
  const axes = dims.map((_, i) => i);
  const product = graph.mul(output, weights);
  return axes.length === 0 ? product : graph.reduceSum(product, axes, false);
}

function scalarOf(value: HostValue | undefined): number {
  if (value === undefined) throw new GraphBuildError('checkGradients: loss missing from the session output');
  return Number(value.data[0]);
}

/** Emits gradients of `loss` w.r.t. the graph inputs `wrt` and checks them by central differences. */
export async function checkGradients(
  graph: Graph,
  loss: Tensor,
  wrt: readonly Tensor[],
  feeds: Record<string, HostValue>,
  options: GradientCheckOptions = {},
): Promise<GradientCheckResult> {
  const step = options.step ?? 1e-6;
  const rtol = options.relativeTolerance ?? 1e-6;
  const atol = options.absoluteTolerance ?? 1e-8;
  const samples = options.samplesPerInput ?? 12;
  const rng = options.rng ?? createRng(1234);
  const gradOptions =
    options.embeddingGradient !== undefined ? { embeddingGradient: options.embeddingGradient } : {};
  const grads = gradients(graph, { loss }, wrt, gradOptions);
  const threads = {
    optimization: options.optimization ?? 'basic',
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  };
  const gradientSession = await createSession(graph, { outputs: [loss, ...grads], ...threads });
  const lossSession = await createSession(graph, { outputs: [loss], ...threads });
  const analytic = await gradientSession.run(feeds);
  const result: GradientCheckResult = {
    ok: true,
    checked: 0,
    maxAbsoluteError: 0,
    maxRelativeError: 0,
    failures: [],
  };
  try {
    for (let w = 0; w < wrt.length; w++) {
      const param = wrt[w]!;
      const base = feeds[param.name];
      if (base === undefined) throw new GraphBuildError(`checkGradients: no feed for '${param.name}'`);
      const grad = analytic[grads[w]!.name];
      if (grad === undefined)
        throw new GraphBuildError(`checkGradients: gradient of '${param.name}' missing`);
      const n = base.data.length;
      const indices =
        n <= samples
          ? Array.from({ length: n }, (_, i) => i)
          : Array.from({ length: samples }, () => Math.floor(rng.next() * n));
      for (const index of indices) {
        const evalAt = async (delta: number) => {
          const data = (base.data as Float64Array).slice();
          data[index] = data[index]! + delta;
          const out = await lossSession.run({ ...feeds, [param.name]: { ...base, data } });
          return scalarOf(out[loss.name]);
        };
        const numeric = ((await evalAt(step)) - (await evalAt(-step))) / (2 * step);
        const a = Number(grad.data[index]);
        const error = Math.abs(a - numeric);
        const scale = Math.max(Math.abs(a), Math.abs(numeric));
        result.checked += 1;
        result.maxAbsoluteError = Math.max(result.maxAbsoluteError, error);
        if (scale > atol) result.maxRelativeError = Math.max(result.maxRelativeError, error / scale);
        if (error > atol + rtol * scale) {
          result.ok = false;
          result.failures.push({ input: param.name, index, analytic: a, numeric });
        }
      }
    }
  } finally {
    await gradientSession.release();
    await lossSession.release();
  }
  return result;
}
