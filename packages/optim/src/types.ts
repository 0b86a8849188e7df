// Parameters and gradients are flat float32 buffers keyed by tensor name (the HF weight names);
// the optimisers update parameters in place so a training step allocates nothing per tensor.

// Declared once in @sr1/spec (the policy contract's parameter and gradient maps).
export type { TensorBuffers } from '@sr1/spec';
