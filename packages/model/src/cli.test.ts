import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import { program, runCli } from './cli.js';
import { loadModelFolder, saveModelFolder } from './formats/model-folder.js';
import { initWeights } from './formats/weights.js';
import { referenceLogProbs } from './reference/reference-decoder.js';
import { SMALL_TOKENIZER, tinyModelFolder, tinyQwen2 } from './testing/index.js';
import { loadTokenizer } from './tokenizer/tokenizer.js';

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
      SMALL_TOKENIZER,
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
      SMALL_TOKENIZER,
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
      SMALL_TOKENIZER,
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
    await run(['init', '--config', configFile, '--tokenizer', SMALL_TOKENIZER, '--out', out, '--seed', '2']);
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
      stderr: expect.stringContaining("flag --engine: unknown value 'gpu9'. Supported: [ort, reference]"),
    });
  });

  it('refuses a model whose vocabulary is smaller than its tokenizer, naming tokenizer.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const config = tinyQwen2(1000);
    await saveModelFolder(
      dir,
      { config, weights: initWeights(config, createRng(1)) },
      { tokenizerDir: SMALL_TOKENIZER },
    );
    const result = await run(['score', '--model', dir, '--text', 'hi', '--engine', 'reference']);
    expect(result.code).toBe(2); // bad input, as every InvalidInputError is on the shared command layer
    expect(result.stderr).toContain(
      `${join(dir, 'tokenizer.json')}: has 2048 ids but the model's vocab_size is 1000`,
    );
  });

  it('init refuses an existing --out without --force, naming --force; --force replaces it whole', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const configFile = join(dir, 'tiny.json');
    await writeFile(configFile, JSON.stringify(tinyHfConfig));
    const out = join(dir, 'model');
    const init = (...extra: string[]) =>
      run(['init', '--config', configFile, '--tokenizer', SMALL_TOKENIZER, '--out', out, ...extra]);
    expect((await init('--seed', '1')).code).toBe(0);
    const before = await readFile(join(out, 'model.safetensors'));
    const refused = await init('--seed', '2');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('flag --out');
    expect(refused.stderr).toContain('--force');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readFile(join(out, 'model.safetensors'))).toEqual(before);

    expect(await init('--seed', '2', '--force')).toMatchObject({ code: 0, stderr: '' });
    const after = await readFile(join(out, 'model.safetensors'));
    expect(after.equals(before)).toBe(false);
    // written beside --out and renamed into place: nothing left over
    expect((await readdir(dir)).sort()).toEqual(['model', 'tiny.json']);

    // --out pointing to a file: one typed line, the file untouched
    const file = join(dir, 'tiny.json');
    const onFile = await run(['init', '--config', configFile, '--tokenizer', SMALL_TOKENIZER, '--out', file]);
    expect(onFile.code).toBe(2);
    expect(onFile.stderr).toContain('flag --out');
    expect(onFile.stderr.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(tinyHfConfig);
    const tokenizerOnFile = await run([
      'train-tokenizer',
      '--corpus',
      configFile,
      '--vocab-size',
      '300',
      '--out',
      file,
    ]);
    expect(tokenizerOnFile).toMatchObject({ code: 2, stderr: expect.stringContaining('flag --out') });
  });

  it('init refuses an absurd config before allocating, naming the field, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-'));
    const configFile = join(dir, 'huge.json');
    await writeFile(configFile, JSON.stringify({ ...tinyHfConfig, num_hidden_layers: 1e9 }));
    const result = await run([
      'init',
      '--config',
      configFile,
      '--tokenizer',
      SMALL_TOKENIZER,
      '--out',
      join(dir, 'm'),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/huge\.json: field 'num_hidden_layers': the weights need .* GiB/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(await readdir(dir)).toEqual(['huge.json']);
  });

  it('answers --help and -h on the program and on every subcommand with exit 0', async () => {
    for (const help of ['--help', '-h']) {
      const top = await run([help]);
      expect(top.code).toBe(0);
      for (const name of Object.keys(program.commands)) expect(top.stdout).toContain(name);
      for (const name of Object.keys(program.commands)) {
        const result = await run([name, help]);
        expect(result, `${name} ${help}`).toMatchObject({ code: 0, stderr: '' });
        expect(result.stdout).toContain(`sr1-model ${name}`);
      }
    }
    // every documented flag survives the move to the shared layer
    expect((await run(['generate', '--help'])).stdout).toMatch(
      /--max-new-tokens[\s\S]*--temperature[\s\S]*--top-k[\s\S]*--top-p[\s\S]*--seed[\s\S]*--stop[\s\S]*--chat[\s\S]*--json[\s\S]*--engine[\s\S]*--device/,
    );
    expect((await run(['serve', '--help'])).stdout).toMatch(/--host[\s\S]*--port[\s\S]*--max-batch/);
  });
});

// The built CLI, spawned as a user runs it.
describe('sr1-model as a process', () => {
  const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

  it('prints its help when run through a symlink, as npm links it into node_modules/.bin', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr1-cli-bin-'));
    const link = join(dir, 'sr1-model');
    await symlink(CLI, link);
    const result = spawnSync(process.execPath, [link, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('sr1-model');
    expect(result.stdout).toContain('serve');
  });

  it('reports a bad --port and a port in use as one typed line, exit 2', async () => {
    const bad = spawnSync(process.execPath, [CLI, 'serve', '--model', 'x', '--port', '70000'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('flag --port');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);

    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    const model = await tinyModelFolder(1);
    try {
      const child = spawn(
        process.execPath,
        [CLI, 'serve', '--model', model, '--port', String(port), '--engine', 'reference'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(code).toBe(2);
      expect(stderr).toContain('EADDRINUSE');
      expect(stderr).toContain(`127.0.0.1:${port}`);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    } finally {
      blocker.close();
    }
  });
});
