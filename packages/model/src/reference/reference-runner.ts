// A DecoderRunner over the plain float64 reference forward (src/reference): no real cache, every
// call recomputes each row from its unpadded tokens. Slow but exact; tests generation and scoring
// against a real (random) model, and checks that callers pass consistent masks and positions.

import type {
  DecoderConfig,
  DecoderRunner,
  ForwardInputs,
  ForwardOutputs,
  KvCache,
  WeightMap,
} from '../engine-types.js';
import { DecoderInputError } from '../errors.js';
import { referenceForward } from './reference-decoder.js';

interface ReferenceCache extends KvCache {
  readonly handles: { rows: number[][] };
}

/** Counts of calls, so tests can see that finished rows stop costing compute. */
export interface ReferenceRunnerStats {
  prefillCalls: number;
  decodeCalls: number;
  /** Sum over decode calls of their batch size. */
  decodedRows: number;
}

export class ReferenceDecoderRunner implements DecoderRunner {
  readonly stats: ReferenceRunnerStats = { prefillCalls: 0, decodeCalls: 0, decodedRows: 0 };
  constructor(
    readonly config: DecoderConfig,
    private readonly weights: WeightMap,
  ) {}

  async prefill(inputs: ForwardInputs, options: { lastOnly?: boolean } = {}): Promise<ForwardOutputs> {
    this.stats.prefillCalls++;
    const rows = Array.from({ length: inputs.batchSize }, () => [] as number[]);
    return this.run(inputs, rows, 0, options.lastOnly ?? false);
  }

  async decode(
    inputs: ForwardInputs,
    cache: KvCache,
    options: { lastOnly?: boolean } = {},
  ): Promise<ForwardOutputs> {
    this.stats.decodeCalls++;
    this.stats.decodedRows += inputs.batchSize;
    const past = (cache as ReferenceCache).handles.rows;
    if (past.length !== inputs.batchSize) {
      throw new DecoderInputError(
        'cache',
        `decode: cache has ${past.length} rows but inputs have ${inputs.batchSize}`,
      );
    }
    return this.run(
      inputs,
      past.map((row) => [...row]),
      cache.length,
      options.lastOnly ?? false,
    );
  }

  selectRows(cache: KvCache, rows: readonly number[]): KvCache {
    const past = (cache as ReferenceCache).handles.rows;
    const selected: ReferenceCache = {
      length: cache.length,
      batchSize: rows.length,
      handles: { rows: rows.map((row) => [...past[row]!]) },
    };
    return selected;
  }

  async dispose(): Promise<void> {}

  private run(
    inputs: ForwardInputs,
    rows: number[][],
    pastLength: number,
    lastOnly: boolean,
  ): ForwardOutputs {
    const { batchSize: B, newLength: N } = inputs;
    const V = this.config.vocabSize;
    const total = pastLength + N;
    if (inputs.attentionMask.length !== B * total) {
      throw new DecoderInputError(
        'attentionMask',
        `attentionMask has ${inputs.attentionMask.length} values, expected (${B}, ${total})`,
      );
    }
    const logits = new Float32Array(B * (lastOnly ? 1 : N) * V);
    for (let b = 0; b < B; b++) {
      const row = rows[b]!;
      // the past part of the mask must agree with the cached tokens
      let pastReal = 0;
      for (let j = 0; j < pastLength; j++) pastReal += Number(inputs.attentionMask[b * total + j]);
      if (pastReal !== row.length)
        throw new DecoderInputError(
          'attentionMask',
          `row ${b}: mask marks ${pastReal} past tokens, cache holds ${row.length}`,
        );
      const firstNew = row.length;
      for (let j = 0; j < N; j++) {
        if (inputs.attentionMask[b * total + pastLength + j] === 1n) {
          const position = Number(inputs.positionIds[b * N + j]);
          if (position !== row.length)
            throw new DecoderInputError(
              'positionIds',
              `row ${b}: position ${position}, expected ${row.length}`,
            );
          row.push(Number(inputs.inputIds[b * N + j]));
        } else if (j > 0 && inputs.attentionMask[b * total + pastLength + j - 1] === 1n) {
          throw new DecoderInputError(
            'attentionMask',
            `row ${b}: padding after a real token (rows must be left-padded)`,
          );
        }
      }
      if (row.length === 0) continue;
      const { logits: out } = referenceForward(this.config, this.weights, row); // (T, V) float64
      const copyRow = (sourcePosition: number, targetSlot: number) => {
        for (let v = 0; v < V; v++)
          logits[(b * (lastOnly ? 1 : N) + targetSlot) * V + v] = out[sourcePosition * V + v]!;
      };
      if (lastOnly) {
        copyRow(row.length - 1, 0);
      } else {
        // new position j holds real token index firstNew + (j - padCount)
        const padCount = N - (row.length - firstNew);
        for (let j = padCount; j < N; j++) copyRow(firstNew + j - padCount, j);
      }
    }
    return { logits, cache: { length: total, batchSize: B, handles: { rows } } as ReferenceCache };
  }
}
