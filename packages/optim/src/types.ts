// Parameters and gradients are flat float32 buffers keyed by tensor name (the HF weight names);
// the optimisers update parameters in place so a training step allocates nothing per tensor.

/** Named float32 buffers: parameters, gradients or optimiser moments. */
export type TensorBuffers = Map<string, Float32Array>;
