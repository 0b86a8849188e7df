// The GPU kit's checks (apps/bench/gpu/README.md), one part per invocation so that run.sh can bound
// each part's time: `node check.mjs <part> --device cuda|cpu --sizes full|tiny --out FILE.json`.
// pack.sh bundles this file with esbuild (@sr1/* and the bench's TypeScript sources inlined,
// onnxruntime-node external and resolved from the kit's node_modules); Node cannot run it unbundled,
// since it imports the bench's .ts sources.
//
// Parts:
//   env          onnxruntime-node's version and binding folder, what the CUDA provider lacks, and
//                one tiny session created and run on the device.
//   parity       per-token log-probs of a random small Qwen2 (OrtTrainablePolicy.forward) on the
//                device in float32 / float16 / bfloat16 against the CPU engine in float32.
//   train-step   one SGD and one AdamW step (the check-train-step model and batch) on the device,
//                against the CPU engine and against PyTorch on the same device (torch_gpu.py step).
//   engine-speed random weights in the Qwen2.5-0.5B (or 3B) config: prefill and decode through
//                LoopDecoder (weights held by the session, the whole generation one ONNX Loop run),
//                and one training step (OrtTrainablePolicy gradient graph + AdamW on the host).
// Every part writes its JSON after each measurement, so a part cut off by its time limit still
// leaves what it measured.

import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createRng } from '@sr1/core';
import { createSession, Graph, missingCudaLibraries, ortBindingDir } from '@sr1/graph';
import {
  cloneWeights,
  expectedWeights,
  initWeights,
  LoopDecoder,
  OrtTrainablePolicy,
  readSafetensors,
  saveModelFolder,
} from '@sr1/model';
import { tinyQwen2ForSmallTokenizer } from '@sr1/model/testing';
import { AdamW, sgdStep } from '@sr1/optim';
import { QWEN25_05B } from '../src/ledger-perf.ts';
import { fullLossBatch } from '../src/train-perf.ts';
import { CHECK_CONFIG, checkBatch, checkEngineBatch, ZERO_GRADIENT } from '../src/train-step-check.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const runFile = promisify(execFile);

/** Qwen2.5-3B's shape (Qwen/Qwen2.5-3B config.json). */
const QWEN25_3B = {
  ...QWEN25_05B,
  hiddenSize: 2048,
  intermediateSize: 11008,
  numHiddenLayers: 36,
  numAttentionHeads: 16,
  numKeyValueHeads: 2,
  headDim: 128,
};

/** The CPU dry run's stand-in for the real configs: the same shape family, tiny. */
const TINY = {
  ...QWEN25_05B,
  vocabSize: 512,
  hiddenSize: 64,
  intermediateSize: 176,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  numKeyValueHeads: 2,
  headDim: 16,
  eosTokenIds: [511],
};

const SIZES = {
  full: {
    prefill: 1024,
    decodeBatches: [1, 64],
    decodePrompt: 16,
    decodeSteps: 64,
    trainBatch: 16,
    trainLength: 1024,
    repeats: 3,
  },
  tiny: {
    prefill: 32,
    decodeBatches: [1, 4],
    decodePrompt: 8,
    decodeSteps: 4,
    trainBatch: 2,
    trainLength: 32,
    repeats: 2,
  },
};

function parseArgs(argv) {
  const [part, ...rest] = argv;
  const options = {
    part,
    device: 'cpu',
    sizes: 'tiny',
    out: undefined,
    python: 'python3',
    config: 'qwen2.5-0.5b',
  };
  options.precision = undefined;
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i].replace(/^--/, '');
    options[key] = rest[i + 1];
  }
  if (options.out === undefined) throw new Error('--out FILE.json is required');
  return options;
}

const options = parseArgs(process.argv.slice(2));
const result = {
  part: options.part,
  device: options.device,
  sizes: options.sizes,
  started: new Date().toISOString(),
};
const save = () => writeFile(options.out, `${JSON.stringify(result, null, 1)}\n`);
const log = (...args) => console.log(`[${options.part}]`, ...args);
const seconds = () => performance.now() / 1000;
const errorText = (error) => `${error?.name ?? 'Error'}: ${String(error?.message ?? error).slice(0, 2000)}`;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs `fn` and records its result or its error under `key`, then saves. */
async function measure(key, fn) {
  const start = seconds();
  try {
    result[key] = await fn();
  } catch (error) {
    result[key] = { error: errorText(error) };
    log(`${key} failed:`, errorText(error));
  }
  if (result[key] !== null && typeof result[key] === 'object') result[key].wallSeconds = seconds() - start;
  await save();
  log(key, JSON.stringify(result[key]).slice(0, 600));
}

// ---- env --------------------------------------------------------------------------------------------

async function env() {
  const require = createRequire(import.meta.url);
  await measure('ort', async () => {
    const bindingDir = ortBindingDir();
    const pkg = require('onnxruntime-node/package.json');
    return { onnxruntimeNode: pkg.version, bindingDir, missingForCuda: missingCudaLibraries() };
  });
  await measure('tinySession', async () => {
    const g = new Graph('tiny');
    const x = g.input('x', 'float32', [2, 3]);
    g.output(g.matmul(x, g.transpose(x, [1, 0])), 'y');
    const session = await createSession(g, { device: options.device });
    const out = await session.run({
      x: { dtype: 'float32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
    });
    await session.release();
    return { device: options.device, y: [...out.y.data], expected: [14, 32, 32, 77] };
  });
}

// ---- parity -----------------------------------------------------------------------------------------

async function parity() {
  const config = { ...tinyQwen2ForSmallTokenizer(), vocabSize: 256, eosTokenIds: [255] };
  const weights = initWeights(config, createRng(7), 0.1); // std 0.1: log-probs far from uniform
  const raw = checkBatch(config, 7, 4, 32);
  const T = raw.tokens[0].length;
  const batch = {
    tokens: Int32Array.from(raw.tokens.flat()),
    attentionMask: Uint8Array.from(raw.attention_mask.flat()),
    batchSize: raw.tokens.length,
    length: T,
  };
  const logprobsOn = async (device, precision) => {
    const policy = await OrtTrainablePolicy.create(config, cloneWeights(weights), {
      device,
      precision,
      threads: 2,
    });
    const { logprobs } = await policy.forward(batch);
    await policy.dispose();
    return logprobs;
  };
  const reference = await logprobsOn('cpu', 'float32');
  result.model = `random Qwen2 (vocab ${config.vocabSize}, hidden ${config.hiddenSize}, ${config.numHiddenLayers} layers, init std 0.1), batch 4 × ${T} right-padded`;
  const limits = { float32: 1e-3, float16: 5e-2, bfloat16: 5e-2 };
  for (const precision of ['float32', 'float16', 'bfloat16']) {
    if (precision === 'bfloat16' && options.device === 'cpu') {
      result[precision] = {
        skipped: "bfloat16 needs the CUDA provider (the engine's PrecisionError on 'cpu')",
      };
      continue;
    }
    await measure(precision, async () => {
      const ours = await logprobsOn(options.device, precision);
      let maxAbsDiff = 0;
      let compared = 0;
      for (let i = 0; i < ours.length; i++) {
        if (batch.attentionMask[i] === 0 || i % T === 0) continue;
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(ours[i] - reference[i]));
        compared++;
      }
      return {
        against: 'CPU engine, float32',
        compared,
        maxAbsDiff,
        limit: limits[precision],
        pass: maxAbsDiff <= limits[precision],
      };
    });
  }
}

// ---- train-step -------------------------------------------------------------------------------------

/** Per tensor max|a − b| / max|b| (the bench's check-train-step criterion), its max, and the update-relative error. */
function compareWeights(ours, theirs, before, skip) {
  let maxRelativeWeightError = 0;
  let maxRelativeUpdateError = 0;
  let worstTensor = '';
  for (const [name, a] of ours) {
    if (skip?.test(name)) continue;
    const b = theirs.get(name);
    const o = before.get(name);
    let diff = 0;
    let scale = 0;
    let updateDiff = 0;
    let updateScale = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      scale = Math.max(scale, Math.abs(b[i]));
      updateDiff = Math.max(updateDiff, Math.abs(a[i] - o[i] - (b[i] - o[i])));
      updateScale = Math.max(updateScale, Math.abs(b[i] - o[i]));
    }
    const relative = scale === 0 ? diff : diff / scale;
    if (relative > maxRelativeWeightError) {
      maxRelativeWeightError = relative;
      worstTensor = name;
    }
    maxRelativeUpdateError = Math.max(
      maxRelativeUpdateError,
      updateScale === 0 ? updateDiff : updateDiff / updateScale,
    );
  }
  return { maxRelativeWeightError, maxRelativeUpdateError, worstTensor };
}

async function trainStep() {
  const limit = 1e-4;
  for (const optimizer of ['sgd', 'adamw']) {
    await measure(optimizer, async () => {
      const seed = 1;
      const weights = initWeights(CHECK_CONFIG, createRng(seed));
      const dir = await mkdtemp(join(tmpdir(), 'sr1-gpu-step-'));
      await saveModelFolder(dir, { config: CHECK_CONFIG, weights });
      const raw = checkBatch(CHECK_CONFIG, seed);
      await writeFile(join(dir, 'batch.json'), JSON.stringify(raw));
      const lr = optimizer === 'sgd' ? 0.1 : 1e-3;
      const weightDecay = optimizer === 'adamw' ? 0.01 : 0;
      const { tokenBatch: batch, upstream } = checkEngineBatch(raw);
      const before = new Map([...weights].map(([name, t]) => [name, t.data]));
      const stepOn = async (device) => {
        const policy = await OrtTrainablePolicy.create(CHECK_CONFIG, cloneWeights(weights), {
          device,
          threads: 1,
        });
        const grads = await policy.backward(batch, { logprobs: upstream });
        if (optimizer === 'sgd') sgdStep(policy.parameters, grads, lr);
        else new AdamW({ lr, weightDecay }).step(policy.parameters, grads, lr);
        await policy.dispose();
        return policy.parameters;
      };
      const onDevice = await stepOn(options.device);
      const onCpu = await stepOn('cpu');
      const skip = optimizer === 'adamw' ? ZERO_GRADIENT : undefined;
      const out = { limit, deviceVsCpuEngine: compareWeights(onDevice, onCpu, before, skip) };
      out.deviceVsCpuEngine.pass = out.deviceVsCpuEngine.maxRelativeWeightError <= limit;
      try {
        const file = join(dir, 'torch-updated.safetensors');
        const { stdout } = await runFile(
          options.python,
          [
            join(HERE, 'torch_gpu.py'),
            'step',
            '--model',
            dir,
            '--batch',
            join(dir, 'batch.json'),
            '--optimizer',
            optimizer,
            '--lr',
            String(lr),
            '--weight-decay',
            String(weightDecay),
            '--out',
            file,
            '--device',
            options.device,
          ],
          { maxBuffer: 64 << 20 },
        );
        out.torch = JSON.parse(stdout.trim().split('\n').at(-1));
        const { tensors } = await readSafetensors(file);
        const theirs = new Map([...tensors].map(([name, t]) => [name, t.data]));
        out.deviceVsTorchSameDevice = compareWeights(onDevice, theirs, before, skip);
        out.deviceVsTorchSameDevice.pass = out.deviceVsTorchSameDevice.maxRelativeWeightError <= limit;
      } catch (error) {
        out.deviceVsTorchSameDevice = {
          error:
            `PyTorch peer (${options.python} torch_gpu.py step) failed: ${errorText(error)} ${error?.stderr ?? ''}`.slice(
              0,
              2000,
            ),
        };
      }
      if (optimizer === 'adamw') out.excluded = 'k_proj biases (exact gradient zero; see docs/results.md)';
      return out;
    });
  }
}

// ---- engine-speed -----------------------------------------------------------------------------------

/** Parameters of `config` (a tied LM head counts once). */
function countParameters(config) {
  let total = 0;
  for (const spec of expectedWeights(config).values()) total += spec.shape.reduce((a, b) => a * b, 1);
  return total;
}

/**
 * Random weights for the speed runs, about 30× faster than `initWeights` (whose Gaussian draws take
 * ≈ 90 ns per parameter here, 45 s for 0.5B): uniform on ±0.02·√3 (std 0.02) from xorshift32; norms
 * 1, biases 0. Speed does not depend on the distribution.
 */
function fastRandomWeights(config, seed = 1) {
  const weights = new Map();
  let x = seed >>> 0 || 1;
  const a = 0.02 * Math.sqrt(3);
  for (const [name, spec] of expectedWeights(config)) {
    const count = spec.shape.reduce((p, q) => p * q, 1);
    const data = new Float32Array(count);
    if (spec.role === 'norm') data.fill(1);
    else if (spec.role !== 'bias')
      for (let i = 0; i < count; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        data[i] = ((x >>> 0) / 4294967296 - 0.5) * 2 * a;
      }
    weights.set(name, { shape: [...spec.shape], data });
  }
  return weights;
}

/** 6 × parameters (the tied embedding counted once, as the LM head's MatMul) + causal attention, per token. */
function trainFlopsPerToken(config, T) {
  return (
    6 * countParameters(config) + 6 * config.numHiddenLayers * config.numAttentionHeads * config.headDim * T
  );
}

async function engineSpeed() {
  const sizes = SIZES[options.sizes];
  const config = options.sizes === 'tiny' ? TINY : options.config === 'qwen2.5-3b' ? QWEN25_3B : QWEN25_05B;
  const precision = options.precision ?? (options.device === 'cuda' ? 'bfloat16' : 'float32');
  const rng = createRng(3);
  const prompt = (length) => Array.from({ length }, () => rng.int(config.vocabSize));
  result.config = options.sizes === 'tiny' ? 'tiny (CPU dry run)' : options.config;
  result.parameters = countParameters(config);
  result.precision = precision;
  result.sizes = sizes;
  let weights;
  await measure('init', async () => {
    weights = fastRandomWeights(config);
    return { parameters: countParameters(config), what: 'random weights in JS (uniform, std 0.02)' };
  });
  let decoder;
  await measure('loopDecoderLoad', async () => {
    decoder = await LoopDecoder.load(config, weights, { device: options.device, precision });
    return { weightBytes: decoder.weightBytes };
  });
  if (decoder !== undefined) {
    const generate = async (prompts, maxNewTokens) => {
      const start = seconds();
      await decoder.generate(prompts, { maxNewTokens, eosTokenIds: [] });
      return seconds() - start;
    };
    await measure('prefill', async () => {
      const prompts = [prompt(sizes.prefill)];
      await generate(prompts, 1); // warm-up
      const times = [];
      for (let i = 0; i < sizes.repeats; i++) times.push(await generate(prompts, 1));
      const sec = median(times);
      return {
        what: 'LoopDecoder.generate(maxNewTokens 1) on one prompt: the prefill plus one sampled token',
        batch: 1,
        tokens: sizes.prefill,
        seconds: sec,
        tokensPerSecond: sizes.prefill / sec,
      };
    });
    result.decode = [];
    for (const B of sizes.decodeBatches) {
      const key = `decode-batch-${B}`;
      await measure(key, async () => {
        const prompts = Array.from({ length: B }, () => prompt(sizes.decodePrompt));
        await generate(prompts, sizes.decodeSteps + 1); // warm-up
        const first = [];
        const all = [];
        decoder.resetLedger();
        for (let i = 0; i < sizes.repeats; i++) {
          first.push(await generate(prompts, 1));
          all.push(await generate(prompts, sizes.decodeSteps + 1));
        }
        const ledger = decoder.ledger;
        const sec = median(all) - median(first);
        if (sec <= 0)
          return { batch: B, error: 'the decode steps took less than the timing noise at these sizes' };
        return {
          what: `LoopDecoder: time(${sizes.decodeSteps + 1} new tokens) − time(1 new token), greedy, no EOS`,
          batch: B,
          prompt: sizes.decodePrompt,
          steps: sizes.decodeSteps,
          seconds: sec,
          tokensPerSecond: (B * sizes.decodeSteps) / sec,
          ledgerBytesPerRun: (ledger.bytesIn + ledger.bytesOut) / Math.max(1, ledger.runs),
          weightBytes: decoder.weightBytes,
        };
      });
    }
    await decoder.dispose();
  }
  await measure('train', async () => {
    const B = sizes.trainBatch;
    const T = sizes.trainLength;
    const policy = await OrtTrainablePolicy.create(config, weights, { device: options.device, precision });
    const optimizer = new AdamW({ lr: 1e-5 });
    const { batch, upstream } = fullLossBatch(
      Int32Array.from({ length: B * T }, () => rng.int(config.vocabSize)),
      B,
      T,
    );
    const step = async () => {
      const t0 = seconds();
      const { grads } = await policy.forwardBackward(batch, { logprobs: upstream });
      const t1 = seconds();
      optimizer.step(policy.parameters, grads);
      return { graph: t1 - t0, optimizer: seconds() - t1 };
    };
    const warm = await step();
    log('train warm-up step', JSON.stringify(warm));
    policy.resetLedger();
    const steps = [];
    for (let i = 0; i < Math.max(1, sizes.repeats - 1); i++) steps.push(await step());
    const ledger = policy.ledger;
    const graph = median(steps.map((s) => s.graph));
    const host = median(steps.map((s) => s.optimizer));
    await policy.dispose();
    return {
      what: 'OrtTrainablePolicy.forwardBackward (one gradient-graph run: weights in, gradients out) + @sr1/optim AdamW on the host',
      batch: B,
      length: T,
      seconds: graph + host,
      graphSeconds: graph,
      hostAdamWSeconds: host,
      tokensPerSecond: (B * T) / (graph + host),
      flopsPerStep: trainFlopsPerToken(config, T) * B * T,
      ledgerBytesPerStep: ledger,
      precision: `float32 weights and gradients, MatMuls in ${precision}`,
    };
  });
}

const parts = { env, parity, 'train-step': trainStep, 'engine-speed': engineSpeed };
if (parts[options.part] === undefined) {
  console.error(`unknown part '${options.part}'. Parts: ${Object.keys(parts).join(', ')}`);
  process.exit(2);
}
await save();
await parts[options.part]();
result.finished = new Date().toISOString();
await save();
process.exit(0);
