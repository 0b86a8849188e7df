// The names of the decoder graphs' inputs and outputs, shared by the builders and the runners.

/** Graph input/output names (weights use their HF names). */
export const DECODER_NAMES = {
  inputIds: 'input_ids',
  attentionMask: 'attention_mask',
  positionIds: 'position_ids',
  targetIds: 'target_ids',
  lossMask: 'loss_mask',
  gradLogprobs: 'grad_logprobs',
  gradEntropy: 'grad_entropy',
  gradValues: 'grad_values',
  values: 'values',
  logits: 'logits',
  logprobs: 'logprobs',
  entropy: 'entropy',
  loss: 'loss',
  pastKey: (layer: number) => `past_key.${layer}`,
  pastValue: (layer: number) => `past_value.${layer}`,
  presentKey: (layer: number) => `present_key.${layer}`,
  presentValue: (layer: number) => `present_value.${layer}`,
  newKey: (layer: number) => `new_key.${layer}`,
  newValue: (layer: number) => `new_value.${layer}`,
  gradient: (weight: string) => `grad.${weight}`,
} as const;
