// `sr1-train make-base`: the toy world's base policy. SFT of a small Qwen2-architecture model on
// Search-R1-format demonstrations over a pretraining world (seeded mix of good searches, guesses
// and vague searches), so the model knows the tags and how to read passages but searches badly.

import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { loadTokenizer } from '@sr1/model';
import { InProcessRetriever } from '@sr1/retriever';
import { famousPeople, knownQuestions } from '@sr1/toy-world';
import { promptOptions, TOY_TEMPLATE } from './prompt-options.js';
import { parseSftConfig } from './sft-config.js';
import { runSft } from './sft-run.js';
import { BASE_POLICY_MIX, demonstrations, KNOWN_FACT_MIX } from './toy-data.js';
import { materializeWorld } from './toy-setup.js';

export interface MakeBaseOptions {
  out: string;
  workDir: string;
  modelConfig: string;
  tokenizer: string;
  /** Pretraining worlds have seeds seed·100 + k, k < worlds (the demo's worlds 202 and 303 are not among them). */
  seed: number;
  /** Many small worlds, so that names never repeat enough to be memorised: copying is the only way. */
  worlds: number;
  questionsPerType: number; // per world
  steps: number;
  /** Continue from this model folder instead of a random initialisation. */
  from?: string;
  /** Peak learning rate. */
  lr?: number; // 2e-3: from scratch; continued training uses less
  /**
   * Well-known people (`famousPeople(famous)`) in every pretraining world, with their facts asked in
   * every world (`KNOWN_FACT_MIX`: half answered from memory, half looked up), so the policy
   * memorises them. 0 (default): none, the committed base policy's recipe.
   */
  famous?: number;
  quiet?: boolean;
}

export async function makeBasePolicy(
  options: MakeBaseOptions,
): Promise<{ lastLoss: number; tokensPerSecond: number }> {
  await mkdir(options.workDir, { recursive: true });
  const tokenizer = await loadTokenizer(options.tokenizer);
  const prompt = promptOptions({ template: TOY_TEMPLATE, chatTemplate: false });
  const rng = createRng(options.seed);
  const famous = (options.famous ?? 0) > 0 ? famousPeople(options.famous) : [];
  const demos: Awaited<ReturnType<typeof demonstrations>> = [];
  for (let k = 0; k < options.worlds; k++) {
    const world = await materializeWorld(join(options.workDir, `pretrain-world-${k}`), {
      seed: options.seed * 100 + k,
      people: 40,
      questionsPerType: options.questionsPerType,
      famous,
    });
    const retriever = await InProcessRetriever.open(world.index);
    demos.push(
      ...(await demonstrations(
        world.world,
        [...world.questionList, ...knownQuestions(famous)],
        BASE_POLICY_MIX,
        retriever,
        tokenizer,
        rng,
        prompt,
      )),
    );
  }
  const data = join(options.workDir, 'sft.jsonl');
  await writeFile(data, demos.map((demo) => `${JSON.stringify({ segments: demo.segments })}\n`).join(''));
  const config = parseSftConfig({
    model:
      options.from !== undefined
        ? { path: options.from }
        : { init: { config: options.modelConfig, tokenizer: options.tokenizer, seed: options.seed } },
    data: { train: data, maxLength: 512 },
    training: {
      steps: options.steps,
      batchSize: 16,
      microBatchSize: 8,
      lr: options.lr ?? 2e-3,
      schedule: 'cosine',
      warmupRatio: 0.03,
      seed: options.seed,
    },
    output: { dir: join(options.workDir, 'sft-run'), saveEvery: Math.max(1, Math.floor(options.steps / 4)) },
  });
  const result = await runSft(config, { resume: true, quiet: options.quiet ?? false });
  await rm(options.out, { recursive: true, force: true });
  await cp(result.finalDir, options.out, { recursive: true });
  await writeFile(
    join(options.out, 'README.md'),
    [
      '# The toy world base policy',
      '',
      `A ${'Qwen2'}-architecture decoder trained with \`sr1-train make-base\` (SFT) on ${demos.length} demonstrations`,
      `over ${options.worlds} pretraining worlds (seeds ${options.seed * 100}…${options.seed * 100 + options.worlds - 1}); styles: ${JSON.stringify(BASE_POLICY_MIX)}.`,
      ...(famous.length > 0
        ? [
            `Every world also holds the ${famous.length} well-known people of \`famousPeople(${famous.length})\`, whose ${2 * famous.length} facts are asked in every world (styles ${JSON.stringify(KNOWN_FACT_MIX)}).`,
          ]
        : []),
      `Final SFT loss ${result.lastLoss.toFixed(4)} after ${options.steps} steps.`,
      '',
      `This stage: \`node apps/trainer/dist/cli.js make-base --out ${options.out} --seed ${options.seed} --steps ${options.steps} --worlds ${options.worlds}` +
        `${options.from !== undefined ? ` --from ${options.from} --lr ${options.lr ?? 2e-3}` : ''}` +
        `${famous.length > 0 ? ` --famous ${famous.length}` : ''}\`` +
        ' (the recipe of the committed base policy is in apps/trainer/assets/base-policy/README.md).',
      '',
    ].join('\n'),
  );
  return { lastLoss: result.lastLoss, tokensPerSecond: result.tokensPerSecond };
}
