// Native tool calls (`toolFormat: 'hermes'`) on real parts: a random tiny model on the ONNX engine,
// the small tokenizer carrying Qwen2.5's real chat template (rendered by jinja), and the agent loop.
// A random model never writes a tool call by itself, so its first turn is forced (scored by the
// model, as if sampled) and the rest are sampled greedily.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createTokenizer,
  generate,
  generatorFromEngine,
  loadModelFolder,
  type ModelTokenizer,
  OrtDecoderRunner,
  scoreSequences,
} from '@sr1/model';
import { QWEN25_CHAT_TEMPLATE } from '@sr1/model/testing';
import { encodePrompt, hermesTurns, runRollout, TOOL_SCHEMAS } from '@sr1/rollout';
import { InMemoryRetriever, TeacherForcedGenerator } from '@sr1/rollout/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModelFolder } from './testing/index.js';

let runner: OrtDecoderRunner;
let tokenizer: ModelTokenizer;

beforeAll(async () => {
  const dir = await tinyModelFolder(7);
  const model = await loadModelFolder(dir);
  const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8'));
  tokenizer = createTokenizer(json, { ...config, chat_template: QWEN25_CHAT_TEMPLATE });
  runner = await OrtDecoderRunner.create(model.config, model.weights, { threads: 1 });
}, 120_000);

afterAll(async () => {
  await runner?.dispose();
});

const CALL = '<tool_call>\n{"name": "search", "arguments": {"query": "last moon landing"}}\n</tool_call>';
const QUESTIONS = ['who was the last person on the moon', 'when did the last moon landing happen'];

describe("toolFormat 'hermes' with the engine and Qwen2.5's chat template", () => {
  it('trains on exactly the sampled tokens; the tool message is masked and is what the template renders', async () => {
    const scoreAfter = async (
      prompts: readonly (readonly number[])[],
      continuations: readonly (readonly number[])[],
    ) => {
      const scored = await scoreSequences(
        runner,
        prompts.map((prompt, i) => [...prompt, ...continuations[i]!]),
      );
      return scored.map((sequence, i) => sequence.logprobs.slice(prompts[i]!.length) as number[]);
    };
    const generator = new TeacherForcedGenerator({
      inner: generatorFromEngine((prompts, options) => generate(runner, tokenizer, prompts, options)),
      tokenizer,
      force: (_key, turn) => (turn === 0 ? CALL : undefined),
      score: scoreAfter,
    });
    const prompts = QUESTIONS.map((question, i) => ({
      id: `q${i}`,
      promptTokenIds: encodePrompt(question, tokenizer, { template: 'search-r1-hermes', tools: ['search'] }),
    }));
    const retriever = new InMemoryRetriever();
    const trajectories = await runRollout(prompts, {
      generator,
      retriever,
      tokenizer,
      // a turn long enough for the forced call; the engine's own turns are that long too
      config: {
        toolFormat: 'hermes',
        maxTurns: 2,
        maxTokensPerTurn: tokenizer.encode(CALL).length,
        temperature: 0,
        seed: 3,
      },
    });

    const turns = hermesTurns(tokenizer, ['search']);
    const hits = (await retriever.search(['last moon landing'], 3))[0]!;
    const documents = hits
      .map((hit, i) => {
        const [title, ...rest] = hit.contents.split('\n');
        return `Doc ${i + 1}(Title: ${title}) ${rest.join('\n')}`;
      })
      .join('\n');
    for (const [i, trajectory] of trajectories.entries()) {
      const prompt = prompts[i]!.promptTokenIds;
      expect(trajectory.searches.map((search) => search.query)).toEqual(['last moon landing']);
      // The forced call (mask 1), then the tool message tokenised on its own (mask 0).
      const call = tokenizer.encode(CALL);
      const observation = tokenizer.encode(turns.assistantEnd + turns.toolResponse(documents));
      const head = call.length + observation.length;
      expect(trajectory.responseTokenIds.slice(0, head)).toEqual([...call, ...observation]);
      expect(Array.from(trajectory.sampledMask.slice(0, head))).toEqual([
        ...call.map(() => 1),
        ...observation.map(() => 0),
      ]);
      // The context the model saw is the conversation Qwen2.5's template renders, tools included.
      const question = encodePrompt(QUESTIONS[i]!, tokenizer, {
        template: 'search-r1-hermes',
        chatTemplate: false,
      });
      expect(tokenizer.decode([...prompt, ...trajectory.responseTokenIds.slice(0, head)])).toBe(
        tokenizer.applyChatTemplate(
          [
            { role: 'user', content: tokenizer.decode(question) },
            { role: 'assistant', content: CALL },
            { role: 'tool', content: documents },
          ],
          { addGenerationPrompt: true, tools: [TOOL_SCHEMAS.search] },
        ),
      );
      // Token-exact: every mask-1 log-prob is the model's log-prob of that token in this context.
      const [scored] = await scoreSequences(runner, [[...prompt, ...trajectory.responseTokenIds]]);
      trajectory.sampledMask.forEach((m, j) => {
        const expected = m === 1 ? scored!.logprobs[prompt.length + j]! : 0;
        expect(Math.abs(trajectory.logProbs[j]! - expected)).toBeLessThan(1e-4);
      });
      expect(trajectory.tokenExact).toBe(true);
    }
  });
});
