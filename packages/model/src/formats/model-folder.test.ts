import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../engine-types.js';
import { MissingFileError, SafetensorsFormatError, WeightShapeError } from '../errors.js';
import { tinyLlama, tinyQwen2 } from '../testing/index.js';
import { decoderConfigToHfJson } from './config.js';
import { loadModelFolder, saveModelFolder } from './model-folder.js';
import { writeSafetensors } from './safetensors.js';
import { initWeights } from './weights.js';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'sr1-folder-'));
}

describe('model folders', () => {
  it('saves and loads back the same config and weights, copying tokenizer files', async () => {
    const dir = await tempDir();
    const tokenizerDir = await tempDir();
    await writeFile(join(tokenizerDir, 'tokenizer.json'), '{"model":{}}');
    await writeFile(join(tokenizerDir, 'tokenizer_config.json'), '{}');
    for (const config of [tinyQwen2(), tinyLlama()]) {
      const weights = initWeights(config, createRng(3));
      await saveModelFolder(dir, { config, weights }, { tokenizerDir });
      const loaded = await loadModelFolder(dir);
      expect(loaded.config).toEqual(config);
      expect(loaded.weights).toEqual(weights);
    }
    expect(await readFile(join(dir, 'tokenizer.json'), 'utf8')).toBe('{"model":{}}');
  });

  it('loads sharded weights through model.safetensors.index.json, in bf16', async () => {
    const dir = await tempDir();
    const config = tinyQwen2();
    const weights = initWeights(config, createRng(4));
    const names = [...weights.keys()];
    const shards = [names.slice(0, 10), names.slice(10)];
    const weightMap: Record<string, string> = {};
    for (const [index, shard] of shards.entries()) {
      const file = `model-0000${index + 1}-of-00002.safetensors`;
      const part = new Map<string, HostTensor>(shard.map((name) => [name, weights.get(name)!]));
      await writeSafetensors(join(dir, file), part, { dtype: 'bfloat16' });
      for (const name of shard) weightMap[name] = file;
    }
    await writeFile(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    await writeFile(join(dir, 'config.json'), JSON.stringify(decoderConfigToHfJson(config)));
    const loaded = await loadModelFolder(dir);
    const embedding = loaded.weights.get('model.embed_tokens.weight')!.data;
    const original = weights.get('model.embed_tokens.weight')!.data;
    expect(embedding.length).toBe(original.length);
    for (let i = 0; i < original.length; i++)
      expect(Math.abs(embedding[i]! - original[i]!)).toBeLessThan(2 ** -7 * 0.1);

    // a tensor the index lists that the shard lacks is named with the shard
    weightMap['model.norm.weight'] = 'model-00001-of-00002.safetensors';
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    await expect(loadModelFolder(dir)).rejects.toThrow(
      /model-00001-of-00002\.safetensors: field 'model.norm.weight': listed in the index but not in the shard/,
    );
  });

  it('names the file and tensor when weights do not fit the config', async () => {
    const dir = await tempDir();
    const config = tinyQwen2();
    await writeFile(join(dir, 'config.json'), JSON.stringify(decoderConfigToHfJson(config)));
    await expect(loadModelFolder(dir)).rejects.toBeInstanceOf(MissingFileError);
    const weights = initWeights({ ...config, intermediateSize: 20 }, createRng(1));
    await writeSafetensors(join(dir, 'model.safetensors'), weights);
    const attempt = loadModelFolder(dir);
    await expect(attempt).rejects.toBeInstanceOf(WeightShapeError);
    await expect(loadModelFolder(dir)).rejects.toThrow(
      `${join(dir, 'model.safetensors')}: field 'model.layers.0.mlp.gate_proj.weight': shape (20, 16) does not match the config's (24, 16)`,
    );
    await writeFile(join(dir, 'model.safetensors'), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    await expect(loadModelFolder(dir)).rejects.toBeInstanceOf(SafetensorsFormatError);
  });
});
