// The compute precision of the decoder graphs, as PyTorch's autocast applies it: MatMuls (the
// projections, the attention scores and values, the LM head) in a half type; RMSNorm, softmax,
// log-softmax, the losses and the residual stream in float32; the weights fed (or held) as float32
// master copies and cast inside the graph, so gradients come back float32 through the Cast rule.

import type { Device } from '@sr1/graph';
import { PrecisionError } from '../errors.js';

/** Compute precision of the MatMuls; 'float32' builds today's graphs unchanged. */
export type Precision = 'float32' | 'float16' | 'bfloat16';

/** Every precision, in the order an error lists them. */
export const PRECISIONS = ['float32', 'float16', 'bfloat16'] as const satisfies readonly Precision[];

/**
 * The KV cache's dtype where it crosses the session boundary: the half type for float16 (half the
 * bytes fed and fetched); float32 for bfloat16, since onnxruntime-node has no bfloat16 tensors
 * (the graph casts it to bfloat16 for the attention MatMuls).
 */
export function kvCacheDtype(precision: Precision): 'float32' | 'float16' {
  return precision === 'float16' ? 'float16' : 'float32';
}

/**
 * Refuses a precision that is not one of `PRECISIONS`, or that `device` cannot run: bfloat16 on
 * 'cpu' (ORT 1.30's CPU provider has no bfloat16 MatMul kernel; Cast to bfloat16 runs). Errors
 * name `field`, the option the caller set.
 */
export function checkPrecision(precision: unknown, device: Device, field = 'precision'): Precision {
  if (!(PRECISIONS as readonly unknown[]).includes(precision))
    throw new PrecisionError(
      field,
      `unknown precision ${JSON.stringify(precision)}. Supported: [${PRECISIONS.join(', ')}]`,
    );
  if (precision === 'bfloat16' && device === 'cpu')
    throw new PrecisionError(
      field,
      "'bfloat16' needs the CUDA device: onnxruntime-node's CPU provider has no bfloat16 MatMul. Use 'float16' or 'float32' on CPU",
    );
  return precision as Precision;
}
