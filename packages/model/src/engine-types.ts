// The seams inside @sr1/model: the normalised decoder config, host tensors, and the runner that
// executes the compiled prefill/decode graphs. Loading (config.json, safetensors, tokenizer),
// generation and the CLI are written against these types; the graphs implement DecoderRunner.

/** A decoder's hyper-parameters, normalised from an HF `config.json` (qwen2 or llama). */
export interface DecoderConfig {
  modelType: 'qwen2' | 'llama';
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  /** Grouped-query attention: numAttentionHeads % numKeyValueHeads === 0. */
  numKeyValueHeads: number;
  /** hiddenSize / numAttentionHeads unless the config says otherwise. */
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
  /** lm_head shares embed_tokens' matrix (no `lm_head.weight` tensor). */
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry a bias (qwen2: true; llama: `attention_bias`, default false). */
  attentionBias: boolean;
  /** o_proj bias (llama `attention_bias` also applies to o_proj; qwen2: false). */
  outputBias: boolean;
  /** gate/up/down projections carry a bias (llama `mlp_bias`, default false). */
  mlpBias: boolean;
  maxPositionEmbeddings: number;
  bosTokenId: number | null;
  /** One or more end-of-sequence ids. */
  eosTokenIds: number[];
}

/** Element types of weights on disk; in memory sr1 computes in float32. */
export type WeightDtype = 'float32' | 'float16' | 'bfloat16';

/** A dense float32 tensor in host memory, row-major. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * The weights of a decoder by their HF names (`model.embed_tokens.weight`,
 * `model.layers.0.self_attn.q_proj.weight` (out, in), …, `model.norm.weight`, `lm_head.weight`).
 * Linear weights keep HF's (out_features, in_features) layout.
 */
export type WeightMap = Map<string, HostTensor>;

/** The key/value cache of a batch; its per-layer layout belongs to the runner (see OrtDecoderRunner). */
export interface KvCache {
  /** Number of cached positions (the same for every row; rows are left-padded). */
  readonly length: number;
  readonly batchSize: number;
  /** Opaque to callers: the runner owns the layout. */
  readonly handles: unknown;
}

/** Inputs for one forward call over a left-padded batch. */
export interface ForwardInputs {
  /** Token ids, shape (batch, newLength), left-padded with any id where attentionMask is 0. */
  inputIds: BigInt64Array;
  batchSize: number;
  newLength: number;
  /** 1 = real token, 0 = padding; shape (batch, pastLength + newLength). */
  attentionMask: BigInt64Array;
  /** Positions of the new tokens, shape (batch, newLength) (count of real tokens before each). */
  positionIds: BigInt64Array;
}

export interface ForwardOutputs {
  /** Logits of the last position per row, shape (batch, vocab), when `lastOnly`; else
   *  (batch, newLength, vocab). */
  logits: Float32Array;
  cache: KvCache;
}

/** Runs the compiled decoder graphs. `prefill` starts a cache; `decode` extends it. */
export interface DecoderRunner {
  readonly config: DecoderConfig;
  prefill(inputs: ForwardInputs, options?: { lastOnly?: boolean }): Promise<ForwardOutputs>;
  decode(inputs: ForwardInputs, cache: KvCache, options?: { lastOnly?: boolean }): Promise<ForwardOutputs>;
  /** Keeps only the given batch rows of a cache (sequences that stopped stop costing compute). */
  selectRows(cache: KvCache, rows: readonly number[]): KvCache;
  dispose(): Promise<void>;
}
