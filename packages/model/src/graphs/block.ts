// One pre-norm decoder layer (nanoGPT's Block): x + attention(norm(x)), then + mlp(norm(·)).

import type { Tensor } from '@sr1/graph';
import { type AttentionShared, causalSelfAttention } from './attention.js';
import { type DecoderBuilder, rmsNorm } from './builder.js';
import { mlp } from './mlp.js';

/** A layer's output and the cache tensors its attention hands back. */
export interface BlockResult {
  /** (batch, seq, hidden) */
  hidden: Tensor;
  presents: Tensor[];
  newEntries: Tensor[];
}

/** Decoder layer `layer` over the residual stream `h` (batch, seq, hidden), in scope `layer{i}`. */
export function decoderBlock(
  b: DecoderBuilder,
  h: Tensor,
  layer: number,
  shared: AttentionShared,
): BlockResult {
  const p = `model.layers.${layer}`;
  return b.g.scope(`layer${layer}`, () => {
    const { g } = b;
    const attention = causalSelfAttention(
      b,
      rmsNorm(b, h, b.weight(`${p}.input_layernorm.weight`)),
      layer,
      shared,
    );
    const attended = g.add(h, attention.output);
    const y = rmsNorm(b, attended, b.weight(`${p}.post_attention_layernorm.weight`));
    return {
      hidden: g.add(attended, mlp(b, y, layer)),
      presents: attention.presents,
      newEntries: attention.newEntries,
    };
  });
}
