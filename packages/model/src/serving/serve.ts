// `sr1-model serve`: an OpenAI-compatible `/v1/completions` endpoint backed by the engine, so a
// pool of sr1 processes (or vLLM, llama.cpp, Ollama) can serve rollouts and evaluations. The ORT
// engine runs in a worker_thread (`EngineWorker`), so the server's event loop answers `/health`
// and takes new requests while a batch decodes.

import { basename, resolve } from 'node:path';
import type { Generator } from '@sr1/spec';
import type { DecoderConfig, DecoderRunner } from '../engine-types.js';
import { loadModelFolder } from '../formats/model-folder.js';
import { createRunner, type EngineName } from '../inference/engine.js';
import { generate } from '../inference/generate.js';
import { EngineWorker } from '../inference/worker-client.js';
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
  /**
   * The engine worker's script (engine 'ort'); default: the built package's. Tests running from
   * the TypeScript sources pass a bundled copy.
   */
  workerUrl?: URL;
}

/** Loads a model folder and serves it; resolves once listening. */
export async function serveModel(options: ServeOptions): Promise<CompletionsServer & { modelId: string }> {
  const tokenizer = await loadTokenizer(options.model);
  const device = options.device !== undefined ? { device: options.device } : {};
  // ORT decodes in the engine worker; the slow exact reference engine stays on this thread.
  let generator: Generator;
  let dispose: () => Promise<void>;
  let config: DecoderConfig;
  if ((options.engine ?? 'ort') === 'ort') {
    const engine = await EngineWorker.start({
      modelDir: options.model,
      ...device,
      ...(options.workerUrl !== undefined ? { workerUrl: options.workerUrl } : {}),
    });
    generator = workerGenerator(engine, tokenizer);
    dispose = () => engine.close();
    config = engine.config; // the worker read the folder: no second copy of the weights here
  } else {
    const loaded = await loadModelFolder(options.model);
    config = loaded.config;
    const runner = await createRunner(loaded, {
      ...(options.engine !== undefined ? { engine: options.engine } : {}),
      ...device,
    });
    generator = servedGenerator(runner, tokenizer);
    dispose = () => runner.dispose();
  }
  const modelId = basename(resolve(options.model));
  let server: CompletionsServer;
  try {
    server = await startCompletionsServer(
      {
        generator,
        tokenizer,
        model: modelId,
        // each request is checked against what the model can take before it joins a batch
        vocabSize: config.vocabSize,
        contextLength: config.maxPositionEmbeddings,
        ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
      },
      { host: options.host ?? '127.0.0.1', port: options.port ?? 0 },
    );
  } catch (error) {
    await dispose(); // a port in use must not leave the engine holding the process open
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
      await dispose();
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

/**
 * The engine worker as the served `Generator` (as `servedGenerator`, the same texts and streaming):
 * generation runs off the main thread, and each client's signal stops its own sequence there.
 */
export function workerGenerator(engine: EngineWorker, tokenizer: ModelTokenizer): Generator {
  return generatorFromEngine(
    async (prompts, options) =>
      (await engine.generate(prompts, options)).map((sequence) => ({
        ...sequence,
        text: tokenizer.decode(sequence.tokenIds),
      })),
    { tokenizer },
  );
}
