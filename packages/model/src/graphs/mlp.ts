// The feed-forward part of one decoder layer (nanoGPT's MLP): Qwen2/Llama's SwiGLU,
// down_proj(silu(gate_proj(x)) · up_proj(x)).

import type { Tensor } from '@sr1/graph';
import { type DecoderBuilder, linear, linears } from './builder.js';

/** SwiGLU MLP of `layer` over `x` (batch, seq, hidden) → (batch, seq, hidden). */
export function mlp(b: DecoderBuilder, x: Tensor, layer: number): Tensor {
  const { g, config } = b;
  const p = `model.layers.${layer}.mlp`;
  const [gate, up] = linears(b, x, [`${p}.gate_proj`, `${p}.up_proj`], config.mlpBias) as [Tensor, Tensor]; // (batch, seq, intermediate) each
  const act = g.mul(g.mul(gate, g.sigmoid(gate)), up); // SwiGLU
  return linear(b, act, `${p}.down_proj`, config.mlpBias);
}
