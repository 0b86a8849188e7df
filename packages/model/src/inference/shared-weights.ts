// Weights a trainer on the main thread and an engine worker can both see: float32 tensors over
// SharedArrayBuffers. The worker never feeds them to ORT directly (onnxruntime-node rejects
// shared memory); it copies them into its own buffers once per policy version (a snapshot).

import type { WeightMap } from '../engine-types.js';

/** One weight as it crosses to the worker: the Float32Array shares memory, it is not copied. */
export interface SharedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * Copies `weights` into SharedArrayBuffer-backed Float32Arrays (once). Train on the returned map
 * (update it in place), hand it to `EngineWorker.start({ weights })`, and call
 * `engine.setPolicyVersion(v)` after each update so the worker takes a new snapshot.
 */
export function shareWeights(weights: WeightMap): WeightMap {
  const shared: WeightMap = new Map();
  for (const [name, tensor] of weights) {
    const data = new Float32Array(new SharedArrayBuffer(tensor.data.byteLength));
    data.set(tensor.data);
    shared.set(name, { shape: [...tensor.shape], data });
  }
  return shared;
}

/** Whether every tensor of `weights` lives in shared memory. */
export function isShared(weights: WeightMap): boolean {
  for (const tensor of weights.values()) if (!(tensor.data.buffer instanceof SharedArrayBuffer)) return false;
  return true;
}
