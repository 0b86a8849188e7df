// Generation in one ONNX run: the prompt's prefill, then an ONNX Loop of decode steps whose KV
// cache, last token, positions and per-row done flags are loop-carried state, with sampling in
// the graph (greedy argMax, or Gumbel-max at a temperature) and the chosen token's log-prob. Built
// from the same attention, MLP and block builders as the prefill/decode graphs. Weights are graph
// inputs here; the runner (inference/loop-decoder.ts) writes them as session initializers, so a
// run feeds only the prompt and fetches only the tokens: the cache never leaves the device.

import { InvalidInputError } from '@sr1/core';
import type { Tensor } from '@sr1/graph';
import { Graph } from '@sr1/graph';
import type { DecoderConfig } from '../engine-types.js';
import { EngineInvariantError } from '../errors.js';
import { expectedWeights } from '../formats/weights.js';
import { type AttentionShared, attentionMask, rotaryEmbedding } from './attention.js';
import { decoderBlock } from './block.js';
import { computeMatmul, type DecoderBuilder, rmsNorm } from './builder.js';
import { DECODER_NAMES } from './names.js';
import type { Precision } from './precision.js';

/** Input and output names of the decode-loop graph (weights use their HF names). */
export const DECODE_LOOP_NAMES = {
  /** (batch, prompt) int64, left-padded prompts. */
  inputIds: DECODER_NAMES.inputIds,
  /** (batch, prompt) int64, 1 on real tokens, 0 on the left padding. */
  attentionMask: DECODER_NAMES.attentionMask,
  /** (batch, prompt) int64, real tokens counted from 0 (padding: any value). */
  positionIds: DECODER_NAMES.positionIds,
  /** () int64: columns of `tokens`, the most tokens any row generates (≥ 1). */
  maxNewTokens: 'max_new_tokens',
  /** (batch) int64: tokens row b may generate (1 … max_new_tokens). */
  rowMaxNewTokens: 'row_max_new_tokens',
  /** () float32: 0 = greedy; otherwise Gumbel-max sampling from softmax(logits / temperature). */
  temperature: 'temperature',
  /** (stops) int64: ids that end a row (kept as its last token); pass one id < 0 for none. */
  stopIds: 'stop_ids',
  /** (batch, steps) int64 out: generated ids; steps ≤ max_new_tokens (all rows done earlier). */
  tokens: 'tokens',
  /** (batch, steps) float32 out: log π(token) under softmax(logits / temperature) (temperature 1 when greedy). */
  logprobs: 'logprobs',
  /** (batch) int64 out: tokens row b generated (the stop id included); later columns are junk. */
  lengths: 'lengths',
} as const;

/** Options of `buildDecodeLoopGraph`. */
export interface DecodeLoopGraphOptions {
  /**
   * Seed of the Gumbel noise (ONNX RandomUniformLike). onnxruntime seeds the op once per session:
   * a new session repeats the sequence of draws, each run of a session continues it.
   */
  seed?: number;
  /**
   * Compute precision (see `Precision`). The cache lives only inside the run, so it is held in the
   * compute dtype whatever it is (bfloat16 too). Default 'float32'.
   */
  precision?: Precision;
}

/** A built decode-loop graph. */
export interface DecodeLoopGraph {
  graph: Graph;
  /** HF weight name → graph input (write them as initializers). */
  weights: Map<string, Tensor>;
  /** tokens, logprobs, lengths. */
  outputs: Tensor[];
}

/** The sampled id (batch, 1) and its log-prob (batch) from logits (batch, vocab). */
function sample(
  g: Graph,
  logits: Tensor,
  temperature: Tensor,
  seed: number | undefined,
): { id: Tensor; logprob: Tensor } {
  const zero = g.scalar(0, 'float32');
  const sampling = g.greater(temperature, zero); // bool ()
  const safeTemperature = g.where(sampling, temperature, g.scalar(1, 'float32'));
  const scaled = g.div(logits, safeTemperature);
  const greedy = g.argMax(logits, -1, true); // (batch, 1), ties to the lowest id as sampleToken
  const u = g.randomUniformLike(logits, { low: 1e-12, high: 1, ...(seed !== undefined ? { seed } : {}) });
  const gumbel = g.neg(g.log(g.neg(g.log(u))));
  const drawn = g.argMax(g.add(scaled, gumbel), -1, true); // Gumbel-max: a draw from softmax(scaled)
  const id = g.where(sampling, drawn, greedy);
  const logprob = g.squeeze(g.gatherElements(g.logSoftmax(scaled, -1), id, 1), [1]);
  return { id, logprob };
}

/** Whether each id of `ids` (batch, 1) is one of `stopIds` (stops): bool (batch). */
function isStop(g: Graph, ids: Tensor, stopIds: Tensor): Tensor {
  const hits = g.cast(g.equal(ids, g.unsqueeze(stopIds, [0])), 'int64'); // (batch, stops)
  return g.greater(g.reduceSum(hits, [1], false), g.scalar(0, 'int64'));
}

/** a ∨ b for bool tensors (¬(¬a ∧ ¬b): @sr1/graph has no Or). */
function or(g: Graph, a: Tensor, b: Tensor): Tensor {
  return g.not(g.and(g.not(a), g.not(b)));
}

/** Restates a tensor's shape (an Identity), so that a loop's carried cache has the dims the attention expects. */
function withShape(g: Graph, x: Tensor, shape: Tensor['shape']): Tensor {
  return g.emitRaw('Identity', [x], [{ dtype: x.dtype, shape }], {})[0]!;
}

/**
 * Builds the decode-loop graph: prefill of the prompts, the first token sampled from its last
 * logits, then a Loop of up to max_new_tokens − 1 decode steps that stops as soon as every row is
 * done (a stop id, or its own token budget). The KV cache is (batch, kvHeads, prompt +
 * max_new_tokens − 1, headDim) per layer, preallocated and filled slot by slot (ScatterElements),
 * attended with the static layout's mask; it exists only inside the run.
 */
export function buildDecodeLoopGraph(
  config: DecoderConfig,
  options: DecodeLoopGraphOptions = {},
): DecodeLoopGraph {
  const { numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  if (!Number.isInteger(heads / kvHeads))
    throw new InvalidInputError({
      field: 'numKeyValueHeads',
      reason: `${kvHeads} does not divide numAttentionHeads ${heads}`,
    });
  if (headDim % 2 !== 0)
    throw new InvalidInputError({
      field: 'headDim',
      reason: `rotary embeddings need an even headDim, got ${headDim}`,
    });
  const N = DECODE_LOOP_NAMES;
  const g = new Graph('decode-loop');
  const inputIds = g.input(N.inputIds, 'int64', ['batch', 'seq']);
  const promptMask = g.input(N.attentionMask, 'int64', ['batch', 'seq']);
  const positionIds = g.input(N.positionIds, 'int64', ['batch', 'seq']);
  const maxNew = g.input(N.maxNewTokens, 'int64', []);
  const rowMaxNew = g.input(N.rowMaxNewTokens, 'int64', ['batch']);
  const temperature = g.input(N.temperature, 'float32', []);
  const stopIds = g.input(N.stopIds, 'int64', ['stops']);

  const weights = new Map<string, Tensor>();
  for (const [name, spec] of expectedWeights(config)) weights.set(name, g.input(name, 'float32', spec.shape));
  const weight = (name: string): Tensor => {
    const t = weights.get(name);
    if (t === undefined)
      throw new EngineInvariantError(`decode-loop graph: weight ${name} is not expected for this config`);
    return t;
  };
  const precision = options.precision ?? 'float32';
  const compute = precision; // the MatMul dtype; float32 is today's graph
  // Every linear weight is cast and transposed once, in the outer graph, and read by the prefill
  // and the loop body alike: with the weights as initializers ORT folds each once.
  const transposes = new Map<string, Tensor>();
  const transposed = (name: string): Tensor => {
    let t = transposes.get(name);
    if (t === undefined) {
      const w = weight(name);
      t = g.transpose(compute === 'float32' ? w : g.cast(w, compute), [1, 0]);
      transposes.set(name, t);
    }
    return t;
  };
  const builder = (graph: Graph): DecoderBuilder => ({
    g: graph,
    config,
    dtype: 'float32',
    ...(compute !== 'float32' ? { compute, cacheDtype: compute } : {}),
    fused: false,
    weight,
    transposed,
  });
  const head = config.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight'; // (vocab, hidden)
  const logitsOf = (b: DecoderBuilder, h: Tensor): Tensor => {
    const last = b.g.squeeze(b.g.slice(h, [-1], [Number.MAX_SAFE_INTEGER], [1]), [1]); // (batch, hidden)
    return computeMatmul(b, rmsNorm(b, last, weight('model.norm.weight')), transposed(head)); // (batch, vocab)
  };

  // Prefill: the prompts' keys and values (the static layout's new entries) and the first token.
  const outer = builder(g);
  const prefillShared: AttentionShared = {
    rotary: rotaryEmbedding(outer, positionIds),
    mask: attentionMask(outer, inputIds, promptMask, 'seq'),
    cache: { hasPast: false, timeMajor: false, appendOnly: true, total: 'seq', emitPresents: false },
    attentionMask: promptMask,
    inputIds,
  };
  const prompt: Tensor[] = []; // per layer keys, values (batch, kvHeads, seq, headDim)
  let h = g.gather(weight('model.embed_tokens.weight'), inputIds, 0);
  for (let layer = 0; layer < config.numHiddenLayers; layer++) {
    const block = decoderBlock(outer, h, layer, prefillShared);
    h = block.hidden;
    prompt.push(...block.newEntries);
  }
  const first = sample(g, logitsOf(outer, h), temperature, options.seed);

  // The cache: prompt entries, then max_new_tokens − 1 empty slots (the last token is never fed).
  const one = g.scalar(1, 'int64');
  const promptLength = g.squeeze(g.shapeOf(inputIds, 1, 2), [0]); // ()
  const extra = g.reshape(g.sub(maxNew, one), [1]); // [max_new_tokens − 1]
  const batchDim = g.shapeOf(inputIds, 0, 1);
  const emptySlots = g.constantOfShape(
    g.concat([batchDim, g.int64s([kvHeads]), extra, g.int64s([headDim])], 0),
    0,
    compute,
    ['batch', kvHeads, 'extra', headDim],
  );
  const cacheShape = ['batch', kvHeads, 'past', headDim];
  const cache0 = prompt.map((entries) => withShape(g, g.concat([entries, emptySlots], 2), cacheShape));
  const mask0 = withShape(
    g,
    g.concat(
      [promptMask, g.constantOfShape(g.concat([batchDim, extra], 0), 0, 'int64', ['batch', 'extra'])],
      1,
    ),
    ['batch', 'past'],
  );
  const position0 = g.reduceSum(promptMask, [1], true); // (batch, 1): the first new token's position
  const done0 = or(g, isStop(g, first.id, stopIds), g.not(g.greater(rowMaxNew, one)));
  const lengths0 = g.constantOfShape(batchDim, 1, 'int64', ['batch']);
  const anyLeft = (graph: Graph, done: Tensor) =>
    graph.greater(
      graph.reduceSum(graph.cast(graph.not(done), 'int64'), [0], false),
      graph.scalar(0, 'int64'),
    );

  const layers = config.numHiddenLayers;
  const { carried, scans } = g.loop({
    maxTrips: g.sub(maxNew, one),
    condition: anyLeft(g, done0),
    carried: [first.id, position0, mask0, done0, lengths0, ...cache0],
    body: (body, inputs) => {
      const [carriedToken, carriedPosition, mask, done, lengths, ...cache] = inputs.carried as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        ...Tensor[],
      ];
      const b = builder(body);
      // The fed token and its position as (batch, seq) with seq = 1, the decode graph's dims.
      const token = withShape(body, carriedToken, ['batch', 'seq']);
      const position = withShape(body, carriedPosition, ['batch', 'seq']);
      const ones = body.constantOfShape(body.shapeOf(token), 1, 'int64', token.shape); // (batch, 1)
      const stepMask = body.concat([mask, ones], 1); // (batch, past + 1): the cache, then the fed token
      const shared: AttentionShared = {
        rotary: rotaryEmbedding(b, position),
        mask: attentionMask(b, token, stepMask, stepMask.shape[1] as string),
        cache: {
          hasPast: true,
          timeMajor: false,
          appendOnly: true,
          total: stepMask.shape[1] as string,
          emitPresents: false,
          past: (layer) => ({ key: cache[2 * layer]!, value: cache[2 * layer + 1]! }),
        },
        attentionMask: stepMask,
        inputIds: token,
      };
      const slot = body.add(promptLength, inputs.iteration); // () the fed token's cache slot
      let x = body.gather(weight('model.embed_tokens.weight'), token, 0); // (batch, 1, hidden)
      const nextCache: Tensor[] = [];
      for (let layer = 0; layer < layers; layer++) {
        const block = decoderBlock(b, x, layer, shared);
        x = block.hidden;
        block.newEntries.forEach((entry, i) => {
          // entry (batch, kvHeads, 1, headDim) → slot `slot` of the layer's cache
          const at = body.add(body.constantOfShape(body.shapeOf(entry), 0, 'int64', entry.shape), slot);
          nextCache.push(body.scatterElements(cache[2 * layer + i]!, at, entry, 2));
        });
      }
      const next = sample(body, logitsOf(b, x), temperature, options.seed);
      const nextMask = body.scatterElements(mask, body.add(body.sub(ones, ones), slot), ones, 1);
      const generated = body.add(inputs.iteration, body.scalar(2, 'int64')); // tokens a live row now has
      const nextLengths = body.add(lengths, body.cast(body.not(done), 'int64'));
      const nextDone = or(
        body,
        done,
        or(body, isStop(body, next.id, stopIds), body.not(body.greater(rowMaxNew, generated))),
      );
      return {
        condition: anyLeft(body, nextDone),
        carried: [next.id, body.add(carriedPosition, one), nextMask, nextDone, nextLengths, ...nextCache],
        scans: [body.squeeze(next.id, [1]), next.logprob],
      };
    },
  });
  const [, , , , lengths] = carried as [Tensor, Tensor, Tensor, Tensor, Tensor];
  const tokens = g.concat([first.id, g.transpose(scans[0]!, [1, 0])], 1); // (batch, steps)
  const logprobs = g.concat([g.unsqueeze(first.logprob, [1]), g.transpose(scans[1]!, [1, 0])], 1);
  const outputs = [g.output(tokens, N.tokens), g.output(logprobs, N.logprobs), g.output(lengths, N.lengths)];
  return { graph: g, weights, outputs };
}
