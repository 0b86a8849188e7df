// Writes a tiny BERT-shaped sentence-embedding model folder (config.json, tokenizer.json,
// tokenizer_config.json, onnx/model.onnx) so the ONNX encoder path can be tested with no download.
// The graph: embedding lookup → linear → tanh → zero the padded positions; output
// `last_hidden_state` (batch, seq, hidden). Weights are seeded random. Not part of the public API.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRng } from '@sr1/core';
import { tokenize } from './analysis.js';

/** Minimal protobuf writer: enough wire types for an ONNX ModelProto. */
class ProtoWriter {
  private readonly parts: Uint8Array[] = [];

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    const bytes: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      bytes.push(byte);
    } while (v !== 0n);
    this.parts.push(Uint8Array.from(bytes));
  }
  private key(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }
  int(field: number, value: number): this {
    this.key(field, 0);
    this.varint(value);
    return this;
  }
  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2);
    this.varint(value.length);
    this.parts.push(value);
    return this;
  }
  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }
  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    const total = this.parts.reduce((sum, part) => sum + part.length, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }
}

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;

function tensor(writer: ProtoWriter, name: string, dims: number[], dataType: number, raw: Uint8Array): void {
  for (const dim of dims) writer.int(1, dim);
  writer.int(2, dataType);
  writer.string(8, name);
  writer.bytes(9, raw);
}

function valueInfo(writer: ProtoWriter, name: string, elemType: number, dims: (number | string)[]): void {
  writer.string(1, name);
  writer.message(2, (type) =>
    type.message(1, (tensorType) => {
      tensorType.int(1, elemType);
      tensorType.message(2, (shape) => {
        for (const dim of dims) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.int(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

function node(
  graph: ProtoWriter,
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: { name: string; int: number }[] = [],
): void {
  graph.message(1, (writer) => {
    for (const input of inputs) writer.string(1, input);
    for (const output of outputs) writer.string(2, output);
    writer.string(3, `${opType}_${outputs[0]}`);
    writer.string(4, opType);
    for (const attribute of attributes) {
      writer.message(5, (a) => a.string(1, attribute.name).int(3, attribute.int).int(20, 2));
    }
  });
}

/** Serialises the tiny embedding graph as an ONNX ModelProto (IR 8, opset 13). */
export function tinyEmbeddingOnnx(vocabSize: number, hidden: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  const embedding = new Float32Array(vocabSize * hidden).map(() => rng.normal());
  const weight = new Float32Array(hidden * hidden).map(() => rng.normal() / Math.sqrt(hidden));
  const bias = new Float32Array(hidden).map(() => rng.normal() * 0.1);
  const axes = new BigInt64Array([2n]);
  const bytesOf = (array: Float32Array | BigInt64Array) => new Uint8Array(array.buffer);
  const model = new ProtoWriter();
  model.int(1, 8); // ir_version
  model.string(2, 'sr1-retriever tiny test model');
  model.message(7, (graph) => {
    node(graph, 'Gather', ['embeddings', 'input_ids'], ['embedded']); // (B, T, H)
    node(graph, 'MatMul', ['embedded', 'weight'], ['projected']); // (B, T, H)
    node(graph, 'Add', ['projected', 'bias'], ['shifted']);
    node(graph, 'Tanh', ['shifted'], ['activated']);
    node(graph, 'Cast', ['attention_mask'], ['mask_float'], [{ name: 'to', int: ONNX_FLOAT }]); // (B, T)
    node(graph, 'Unsqueeze', ['mask_float', 'mask_axes'], ['mask_3d']); // (B, T, 1)
    node(graph, 'Mul', ['activated', 'mask_3d'], ['last_hidden_state']); // (B, T, H)
    graph.string(2, 'tiny_embedding');
    graph.message(5, (t) => tensor(t, 'embeddings', [vocabSize, hidden], ONNX_FLOAT, bytesOf(embedding)));
    graph.message(5, (t) => tensor(t, 'weight', [hidden, hidden], ONNX_FLOAT, bytesOf(weight)));
    graph.message(5, (t) => tensor(t, 'bias', [hidden], ONNX_FLOAT, bytesOf(bias)));
    graph.message(5, (t) => tensor(t, 'mask_axes', [1], ONNX_INT64, bytesOf(axes)));
    graph.message(11, (v) => valueInfo(v, 'input_ids', ONNX_INT64, ['batch', 'sequence']));
    graph.message(11, (v) => valueInfo(v, 'attention_mask', ONNX_INT64, ['batch', 'sequence']));
    graph.message(12, (v) => valueInfo(v, 'last_hidden_state', ONNX_FLOAT, ['batch', 'sequence', hidden]));
  });
  model.message(8, (opset) => opset.string(1, '').int(2, 13));
  return model.finish();
}

const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/** A WordPiece vocabulary: special tokens, single characters (and their ## forms), then the most frequent words of `texts`. */
export function buildWordPieceVocab(texts: readonly string[], maxWords: number): string[] {
  const vocab: string[] = [...SPECIAL_TOKENS];
  const characters = 'abcdefghijklmnopqrstuvwxyz0123456789';
  for (const character of characters) vocab.push(character);
  for (const character of characters) vocab.push(`##${character}`);
  for (const punctuation of '.,;:!?\'"()-/&') vocab.push(punctuation);
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const token of tokenize(text)) {
      if (/^[a-z0-9]+$/.test(token) && token.length > 1) counts.set(token, (counts.get(token) ?? 0) + 1);
    }
  }
  const words = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, maxWords);
  for (const [word] of words) vocab.push(word);
  return vocab;
}

/** Writes a complete tiny model folder into `dir`; returns its vocabulary size. */
export function writeTinyModelFolder(
  dir: string,
  options: { texts: readonly string[]; hidden?: number; maxWords?: number; seed?: number },
): { vocabSize: number; hidden: number } {
  const hidden = options.hidden ?? 32;
  const vocab = buildWordPieceVocab(options.texts, options.maxWords ?? 2000);
  const vocabMap: Record<string, number> = {};
  vocab.forEach((token, index) => {
    vocabMap[token] = index;
  });
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), tinyEmbeddingOnnx(vocab.length, hidden, options.seed ?? 7));
  const special = (token: string) => ({ SpecialToken: { id: token, type_id: 0 } });
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]'), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]')],
      pair: [
        special('[CLS]'),
        { Sequence: { id: 'A', type_id: 0 } },
        special('[SEP]'),
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: vocabMap,
    },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      tokenizer_class: 'BertTokenizer',
      do_lower_case: true,
      model_max_length: 128,
      pad_token: '[PAD]',
      unk_token: '[UNK]',
      cls_token: '[CLS]',
      sep_token: '[SEP]',
      mask_token: '[MASK]',
    }),
  );
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      model_type: 'bert',
      architectures: ['BertModel'],
      hidden_size: hidden,
      vocab_size: vocab.length,
      num_attention_heads: 1,
      num_hidden_layers: 1,
      intermediate_size: hidden,
      max_position_embeddings: 128,
      type_vocab_size: 2,
      pad_token_id: 0,
    }),
  );
  return { vocabSize: vocab.length, hidden };
}
