import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { loadModelFolder, saveModelFolder } from './model-folder.js';
import { referenceLogProbs } from './reference/reference-decoder.js';
import { tinyQwen2 } from './test-configs.js';
import { SMALL_TOKENIZER_DIR } from './test-paths.js';
import { loadTokenizer } from './tokenizer.js';
import { initWeights } from './weights.js';

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

const tinyHfConfig = {
  model_type: 'qwen2',
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 512,
  tie_word_embeddings: true,
};

describe('sr1-model CLI', () => {
  it('init writes a loadable random model with the tokenizer copied, vocab and eos from the tokenizer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const configFile = join(dir, 'tiny.json');
    await writeFile(configFile, JSON.stringify(tinyHfConfig));
    const out = join(dir, 'model');
    const result = await run([
      'init',
      '--config',
      configFile,
      '--tokenizer',
      SMALL_TOKENIZER_DIR,
      '--out',
      out,
      '--seed',
      '5',
    ]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const model = await loadModelFolder(out);
    const tokenizer = await loadTokenizer(out);
    expect(model.config.vocabSize).toBe(2048);
    expect(model.config.eosTokenIds).toEqual(tokenizer.eosTokenIds);
    // same seed → same weights
    const again = join(dir, 'again');
    await run([
      'init',
      '--config',
      configFile,
      '--tokenizer',
      SMALL_TOKENIZER_DIR,
      '--out',
      again,
      '--seed',
      '5',
    ]);
    expect((await loadModelFolder(again)).weights).toEqual(model.weights);
    // --init-std scales the normal init (0 → all-zero matrices)
    const flat = join(dir, 'flat');
    await run([
      'init',
      '--config',
      configFile,
      '--tokenizer',
      SMALL_TOKENIZER_DIR,
      '--out',
      flat,
      '--init-std',
      '0',
    ]);
    const flatWeights = (await loadModelFolder(flat)).weights;
    expect([...flatWeights.get('model.layers.0.mlp.up_proj.weight')!.data].every((x) => x === 0)).toBe(true);
    expect([...flatWeights.get('model.norm.weight')!.data].every((x) => x === 1)).toBe(true);
  });

  it('names the flag that is missing, unknown or malformed', async () => {
    expect(await run(['init', '--tokenizer', 'x', '--out', 'y'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('flag --config: is required'),
    });
    expect(
      await run(['init', '--config', 'a', '--tokenizer', 'b', '--out', 'c', '--seed', 'abc']),
    ).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('flag --seed: expected an integer'),
    });
    expect(await run(['init', '--bogus', '1'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('flag --bogus'),
    });
    expect(await run(['frobnicate'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'frobnicate'"),
    });
  });

  it('score --json prints log P(tokens[i] | tokens[<i]) that match the reference forward; generate runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const configFile = join(dir, 'tiny.json');
    await writeFile(configFile, JSON.stringify(tinyHfConfig));
    const out = join(dir, 'model');
    await run([
      'init',
      '--config',
      configFile,
      '--tokenizer',
      SMALL_TOKENIZER_DIR,
      '--out',
      out,
      '--seed',
      '2',
    ]);
    const model = await loadModelFolder(out);
    const scored = await run([
      'score',
      '--model',
      out,
      '--tokens',
      '5,300,77,1024',
      '--json',
      '--engine',
      'reference',
    ]);
    expect(scored.stderr).toBe('');
    const parsed = JSON.parse(scored.stdout) as { tokens: number[]; logprobs: (number | null)[] };
    expect(parsed.tokens).toEqual([5, 300, 77, 1024]);
    expect(parsed.logprobs[0]).toBeNull();
    const reference = referenceLogProbs(model.config, model.weights, [5, 300, 77, 1024]);
    for (let i = 1; i < 4; i++) expect(parsed.logprobs[i]!).toBeCloseTo(reference.logprobs[i]!, 4);

    const text = await run([
      'score',
      '--model',
      out,
      '--text',
      'Paris is',
      '--json',
      '--engine',
      'reference',
    ]);
    expect(JSON.parse(text.stdout).tokens).toEqual((await loadTokenizer(out)).encode('Paris is'));

    const generated = await run([
      'generate',
      '--model',
      out,
      '--prompt',
      'Who',
      '--max-new-tokens',
      '3',
      '--temperature',
      '0',
      '--json',
      '--engine',
      'reference',
    ]);
    expect(generated.stderr).toBe('');
    const result = JSON.parse(generated.stdout);
    expect(result.tokenIds.length).toBeGreaterThan(0);
    expect(result.tokenIds.length).toBeLessThanOrEqual(3);

    expect(await run(['score', '--model', out, '--tokens', '1,x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('flag --tokens: expected comma-separated token ids'),
    });
    expect(await run(['score', '--model', out, '--text', 'a', '--tokens', '1'])).toMatchObject({ code: 2 });
    expect(await run(['score', '--model', out, '--text', 'a', '--engine', 'gpu9'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("flag --engine: unknown engine 'gpu9'"),
    });
  });

  it('refuses a model whose vocabulary is smaller than its tokenizer, naming tokenizer.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const config = tinyQwen2(1000);
    await saveModelFolder(
      dir,
      { config, weights: initWeights(config, createRng(1)) },
      { tokenizerDir: SMALL_TOKENIZER_DIR },
    );
    const result = await run(['score', '--model', dir, '--text', 'hi', '--engine', 'reference']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `${join(dir, 'tokenizer.json')}: has 2048 ids but the model's vocab_size is 1000`,
    );
  });
});
