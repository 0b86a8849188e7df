// `sr1-model serve`: an OpenAI-compatible `/v1/completions` endpoint backed by the engine, so a
// pool of sr1 processes (or vLLM, llama.cpp, Ollama) can serve rollouts and evaluations.

import { basename, resolve } from 'node:path';
import type { Generator } from '@sr1/spec';
import type { DecoderRunner } from '../engine-types.js';
import { loadModelFolder } from '../formats/model-folder.js';
import { createRunner, type EngineName } from '../inference/engine.js';
import { generate } from '../inference/generate.js';
import { loadTokenizer, type ModelTokenizer } from '../tokenizer/tokenizer.js';
import { generatorFromEngine } from './generator-from-engine.js';
import { type CompletionsServer, startCompletionsServer } from './openai-server.js';

export interface ServeOptions {
  model: string;
  host?: string; // 127.0.0.1: local only unless asked
  port?: number; // 0: any free port
  engine?: EngineName;
  device?: 'cpu' | 'cuda';
  /** Most sequences batched into one generate call. */
  maxBatchSize?: number;
}

/** Loads a model folder and serves it; resolves once listening. */
export async function serveModel(options: ServeOptions): Promise<CompletionsServer & { modelId: string }> {
  const loaded = await loadModelFolder(options.model);
  const tokenizer = await loadTokenizer(options.model);
  const runner = await createRunner(loaded, {
    ...(options.engine !== undefined ? { engine: options.engine } : {}),
    ...(options.device !== undefined ? { device: options.device } : {}),
  });
  const modelId = basename(resolve(options.model));
  let server: CompletionsServer;
  try {
    server = await startCompletionsServer(
      {
        generator: servedGenerator(runner, tokenizer),
        tokenizer,
        model: modelId,
        // each request is checked against what the model can take before it joins a batch
        vocabSize: loaded.config.vocabSize,
        contextLength: loaded.config.maxPositionEmbeddings,
        ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      },
      { host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
    );
  } catch (error) {
    await runner.dispose(); // a port in use must not leave the engine holding the process open
    throw error;
  }
  return {
    ...server,
    url: server.url,
    server: server.server,
    stats: () => server.stats(),
    modelId,
    close: async () => {
      await server.close();
      await runner.dispose();
    },
  };
}

/**
 * The engine as the served `Generator`, through `generatorFromEngine` (the one adapter),
 * streaming deltas when asked. A completion's `text` is the decode of all its ids, so one that ends
 * on EOS shows the EOS token's text, as the served text always has (local `generate` drops it).
 */
export function servedGenerator(runner: DecoderRunner, tokenizer: ModelTokenizer): Generator {
  return generatorFromEngine(
    async (prompts, options) =>
      (await generate(runner, tokenizer, prompts, options)).map((sequence) => ({
        ...sequence,
        text: tokenizer.decode(sequence.tokenIds),
      })),
    { tokenizer },
  );
}
