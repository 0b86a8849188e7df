// Exports a decoder to GGUF v3 (llama.cpp's file format): hparams under `<arch>.*`, the tokenizer
// as a GPT-2 style BPE (`tokenizer.ggml.*`), and F32 tensors under GGUF names, with llama.cpp's
// q/k row permutation for the `llama` architecture (as its convert_hf_to_gguf.py does; not for
// qwen2). Also a small reader, used to check what was written.

import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DecoderConfig, HostTensor, WeightMap } from '../engine-types.js';
import {
  EngineInvariantError,
  GgufFormatError,
  MissingFileError,
  ModelConfigError,
  TokenizerError,
} from '../errors.js';

const GGUF_MAGIC = 0x46554747; // "GGUF" little-endian
const GGUF_VERSION = 3;
const WRITE_CHUNK = 1 << 30;
/** llama.cpp's default `general.alignment`. */
const ALIGNMENT = 32;

/** GGUF metadata value types. */
export const GgufType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;

/** llama.cpp token types (llama_token_type). */
const TOKEN_TYPE = { NORMAL: 1, CONTROL: 3, UNUSED: 5 } as const;

/** A typed metadata value. Arrays hold one element type. */
export type GgufValue =
  | { type: 'uint32'; value: number }
  | { type: 'int32'; value: number }
  | { type: 'float32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'uint64'; value: bigint }
  | { type: 'array'; elementType: 'string'; value: string[] }
  | { type: 'array'; elementType: 'int32'; value: number[] }
  | { type: 'array'; elementType: 'float32'; value: number[] };

/** A tensor to write: `shape` in HF/torch order (outermost first); GGUF stores it reversed. */
export interface GgufTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** HF tensor name → GGUF tensor name (llama.cpp's tensor map for llama/qwen2). */
export function ggufTensorName(hfName: string): string {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  const direct = fixed[hfName];
  if (direct !== undefined) return direct;
  const match = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hfName);
  const parts: Record<string, string> = {
    input_layernorm: 'attn_norm',
    post_attention_layernorm: 'ffn_norm',
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
  };
  const part = match ? parts[match[2]!] : undefined;
  if (match === null || part === undefined)
    throw new EngineInvariantError(`no GGUF name for tensor '${hfName}'`);
  return `blk.${match[1]}.${part}.${match[3]}`;
}

/**
 * llama.cpp's `LlamaModel.permute`: within each head, rows ordered (half, pair) instead of
 * (pair, half), turning HF's rotate-half RoPE layout into llama.cpp's interleaved one.
 * @param data - rows × columns (columns = 1 for a bias), rows = heads × headDim
 */
export function permuteForLlamaRope(
  data: Float32Array,
  heads: number,
  rows: number,
  columns: number,
): Float32Array {
  const headDim = rows / heads;
  const half = headDim / 2;
  const out = new Float32Array(data.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const source = (h * headDim + j * half + i) * columns;
        const target = (h * headDim + i * 2 + j) * columns;
        out.set(data.subarray(source, source + columns), target);
      }
    }
  }
  return out;
}

/** The tokenizer pieces GGUF needs, read from an HF tokenizer.json (byte-level BPE only). */
export interface GgufTokenizer {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
  chatTemplate: string | null;
}

/** Reads tokenizer.json + tokenizer_config.json of a byte-level BPE tokenizer for GGUF. */
export async function readGgufTokenizer(dir: string, vocabSize: number): Promise<GgufTokenizer> {
  const tokenizerFile = join(dir, 'tokenizer.json');
  const configFile = join(dir, 'tokenizer_config.json');
  let json: {
    model?: { type?: string; vocab?: Record<string, number>; merges?: (string | [string, string])[] };
    added_tokens?: { id: number; content: string; special?: boolean }[];
  };
  try {
    json = JSON.parse(await readFile(tokenizerFile, 'utf8'));
  } catch (error) {
    throw new MissingFileError(tokenizerFile, `cannot read: ${(error as Error).message}`, { cause: error });
  }
  let config: Record<string, unknown> = {};
  try {
    config = JSON.parse(await readFile(configFile, 'utf8'));
  } catch {
    // tokenizer_config.json is optional
  }
  const model = json.model;
  if (model?.type !== 'BPE' || model.vocab === undefined || model.merges === undefined) {
    throw new TokenizerError(
      tokenizerFile,
      'GGUF export supports byte-level BPE tokenizers only',
      'model.type',
    );
  }
  const tokens: string[] = new Array(vocabSize);
  const tokenTypes: number[] = new Array(vocabSize).fill(TOKEN_TYPE.NORMAL);
  for (const [token, id] of Object.entries(model.vocab)) {
    if (id >= vocabSize)
      throw new TokenizerError(tokenizerFile, `token id ${id} ≥ the model's vocab_size ${vocabSize}`, token);
    tokens[id] = token;
  }
  for (const added of json.added_tokens ?? []) {
    if (added.id >= vocabSize) {
      throw new TokenizerError(
        tokenizerFile,
        `token id ${added.id} ≥ the model's vocab_size ${vocabSize}`,
        added.content,
      );
    }
    tokens[added.id] = added.content;
    tokenTypes[added.id] = added.special ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL;
  }
  // Rows of the embedding no token uses (vocab padded to a multiple) become unused [PADi] tokens,
  // as convert_hf_to_gguf.py writes them.
  for (let id = 0; id < vocabSize; id++) {
    if (tokens[id] === undefined) {
      tokens[id] = `[PAD${id}]`;
      tokenTypes[id] = TOKEN_TYPE.UNUSED;
    }
  }
  const merges = model.merges.map((merge) => (Array.isArray(merge) ? merge.join(' ') : merge));
  const idOf = (field: string): number | null => {
    const value = config[field];
    const content = typeof value === 'string' ? value : (value as { content?: string } | null)?.content;
    if (typeof content !== 'string') return null;
    const id = tokens.indexOf(content);
    return id >= 0 ? id : null;
  };
  const chatTemplate = typeof config.chat_template === 'string' ? config.chat_template : null;
  return {
    tokens,
    tokenTypes,
    merges,
    bosTokenId: idOf('bos_token'),
    eosTokenId: idOf('eos_token'),
    padTokenId: idOf('pad_token'),
    chatTemplate,
  };
}

/** The metadata llama.cpp reads for a qwen2/llama model with a GPT-2 style BPE tokenizer. */
export function ggufMetadata(
  config: DecoderConfig,
  tokenizer: GgufTokenizer,
  name: string,
): Map<string, GgufValue> {
  const arch = config.modelType;
  const u32 = (value: number): GgufValue => ({ type: 'uint32', value });
  const f32 = (value: number): GgufValue => ({ type: 'float32', value });
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', u32(0)], // ALL_F32
    ['general.alignment', u32(ALIGNMENT)],
    [`${arch}.vocab_size`, u32(config.vocabSize)],
    [`${arch}.context_length`, u32(config.maxPositionEmbeddings)],
    [`${arch}.embedding_length`, u32(config.hiddenSize)],
    [`${arch}.block_count`, u32(config.numHiddenLayers)],
    [`${arch}.feed_forward_length`, u32(config.intermediateSize)],
    [`${arch}.attention.head_count`, u32(config.numAttentionHeads)],
    [`${arch}.attention.head_count_kv`, u32(config.numKeyValueHeads)],
    [`${arch}.attention.key_length`, u32(config.headDim)],
    [`${arch}.attention.value_length`, u32(config.headDim)],
    [`${arch}.rope.dimension_count`, u32(config.headDim)],
    [`${arch}.rope.freq_base`, f32(config.ropeTheta)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(config.rmsNormEps)],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    // llama.cpp's "qwen2" pre-tokenizer is the same regex sr1's BPE trainer splits with.
    ['tokenizer.ggml.pre', { type: 'string', value: 'qwen2' }],
    ['tokenizer.ggml.tokens', { type: 'array', elementType: 'string', value: tokenizer.tokens }],
    ['tokenizer.ggml.token_type', { type: 'array', elementType: 'int32', value: tokenizer.tokenTypes }],
    ['tokenizer.ggml.merges', { type: 'array', elementType: 'string', value: tokenizer.merges }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: false }],
  ]);
  const eos = config.eosTokenIds[0] ?? tokenizer.eosTokenId;
  const bos = config.bosTokenId ?? tokenizer.bosTokenId ?? eos;
  if (bos !== null && bos !== undefined) metadata.set('tokenizer.ggml.bos_token_id', u32(bos));
  if (eos !== null && eos !== undefined) metadata.set('tokenizer.ggml.eos_token_id', u32(eos));
  if (tokenizer.padTokenId !== null)
    metadata.set('tokenizer.ggml.padding_token_id', u32(tokenizer.padTokenId));
  if (tokenizer.chatTemplate !== null)
    metadata.set('tokenizer.chat_template', { type: 'string', value: tokenizer.chatTemplate });
  return metadata;
}

/** The model's tensors under GGUF names, q/k permuted for llama (F32, HF shapes). */
export function ggufTensors(config: DecoderConfig, weights: WeightMap): GgufTensor[] {
  const tensors: GgufTensor[] = [];
  for (const [hfName, tensor] of weights) {
    let data = tensor.data;
    if (config.modelType === 'llama') {
      const heads = /q_proj\.(weight|bias)$/.test(hfName)
        ? config.numAttentionHeads
        : /k_proj\.(weight|bias)$/.test(hfName)
          ? config.numKeyValueHeads
          : 0;
      if (heads > 0) data = permuteForLlamaRope(data, heads, tensor.shape[0]!, tensor.shape[1] ?? 1);
    }
    tensors.push({ name: ggufTensorName(hfName), shape: [...tensor.shape], data });
  }
  return tensors;
}

/** Writes a GGUF v3 file: header, metadata, tensor infos, then 32-byte aligned F32 data. */
export async function writeGguf(
  file: string,
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensor[],
): Promise<void> {
  const head = new ByteWriter();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(BigInt(tensors.length));
  head.u64(BigInt(metadata.size));
  for (const [key, value] of metadata) {
    head.string(key);
    writeValue(head, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const tensor of tensors) {
    head.string(tensor.name);
    head.u32(tensor.shape.length);
    for (const dim of [...tensor.shape].reverse()) head.u64(BigInt(dim)); // ggml: ne[0] innermost
    head.u32(0); // GGML_TYPE_F32
    head.u64(BigInt(offset));
    offsets.push(offset);
    offset = align(offset + tensor.data.byteLength);
  }
  const headBytes = head.bytes();
  const handle = await open(file, 'w');
  try {
    await handle.write(headBytes);
    await handle.write(new Uint8Array(align(headBytes.length) - headBytes.length));
    let written = 0;
    for (const tensor of tensors) {
      const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
      for (let done = 0; done < bytes.length; done += WRITE_CHUNK) {
        await handle.write(bytes, done, Math.min(WRITE_CHUNK, bytes.length - done)); // ≤ 2 GiB per call
      }
      written += bytes.length;
      const padded = align(written);
      if (padded > written) await handle.write(new Uint8Array(padded - written));
      written = padded;
    }
  } finally {
    await handle.close();
  }
}

/** Exports a loaded model folder (config, weights, tokenizer files in `tokenizerDir`) to GGUF. */
export async function exportGguf(
  file: string,
  model: { config: DecoderConfig; weights: WeightMap },
  tokenizerDir: string,
  name = 'sr1',
): Promise<{ tensors: number; metadata: number }> {
  const { config } = model;
  if (config.modelType === 'qwen2' && config.headDim * config.numAttentionHeads !== config.hiddenSize) {
    // llama.cpp's qwen2 loader expects q/o of (hidden, hidden)
    throw new ModelConfigError(
      'config.json',
      'head_dim',
      `llama.cpp's qwen2 needs head_dim × num_attention_heads = hidden_size, got ${config.headDim} × ${config.numAttentionHeads} ≠ ${config.hiddenSize}`,
    );
  }
  const tokenizer = await readGgufTokenizer(tokenizerDir, model.config.vocabSize);
  const metadata = ggufMetadata(model.config, tokenizer, name);
  const tensors = ggufTensors(model.config, model.weights);
  await writeGguf(file, metadata, tensors);
  return { tensors: tensors.length, metadata: metadata.size };
}

/** A parsed GGUF file (metadata values decoded; tensors as F32 with HF-order shapes). */
export interface GgufFile {
  version: number;
  metadata: Map<string, unknown>;
  tensors: Map<string, HostTensor>;
}

/** Reads a GGUF v3 file with F32 tensors (what `writeGguf` writes), whole, into memory: for checks of small files. */
export async function readGguf(file: string): Promise<GgufFile> {
  const bytes = await readFile(file);
  const reader = new ByteReader(bytes);
  if (reader.u32() !== GGUF_MAGIC) throw new GgufFormatError(file, 'not a GGUF file');
  const version = reader.u32();
  const tensorCount = Number(reader.u64());
  const kvCount = Number(reader.u64());
  const metadata = new Map<string, unknown>();
  for (let i = 0; i < kvCount; i++) {
    const key = reader.string();
    metadata.set(key, readValue(reader, reader.u32()));
  }
  const infos: { name: string; shape: number[]; type: number; offset: number }[] = [];
  for (let i = 0; i < tensorCount; i++) {
    const name = reader.string();
    const dims = reader.u32();
    const shape: number[] = [];
    for (let d = 0; d < dims; d++) shape.push(Number(reader.u64()));
    infos.push({ name, shape: shape.reverse(), type: reader.u32(), offset: Number(reader.u64()) });
  }
  const alignment = Number(metadata.get('general.alignment') ?? ALIGNMENT);
  const dataStart = Math.ceil(reader.position / alignment) * alignment;
  const tensors = new Map<string, HostTensor>();
  for (const info of infos) {
    if (info.type !== 0) {
      throw new GgufFormatError(file, 'only F32 tensors can be read', info.name);
    }
    const count = info.shape.reduce((a, b) => a * b, 1);
    const start = dataStart + info.offset;
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(start, start + count * 4));
    tensors.set(info.name, { shape: info.shape, data });
  }
  return { version, metadata, tensors };
}

function align(offset: number): number {
  return Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
}

function writeValue(writer: ByteWriter, value: GgufValue): void {
  switch (value.type) {
    case 'uint32':
      writer.u32(GgufType.UINT32);
      writer.u32(value.value);
      return;
    case 'int32':
      writer.u32(GgufType.INT32);
      writer.i32(value.value);
      return;
    case 'float32':
      writer.u32(GgufType.FLOAT32);
      writer.f32(value.value);
      return;
    case 'bool':
      writer.u32(GgufType.BOOL);
      writer.u8(value.value ? 1 : 0);
      return;
    case 'string':
      writer.u32(GgufType.STRING);
      writer.string(value.value);
      return;
    case 'uint64':
      writer.u32(GgufType.UINT64);
      writer.u64(value.value);
      return;
    case 'array':
      writer.u32(GgufType.ARRAY);
      if (value.elementType === 'string') {
        writer.u32(GgufType.STRING);
        writer.u64(BigInt(value.value.length));
        for (const item of value.value) writer.string(item);
      } else if (value.elementType === 'int32') {
        writer.u32(GgufType.INT32);
        writer.u64(BigInt(value.value.length));
        for (const item of value.value) writer.i32(item);
      } else {
        writer.u32(GgufType.FLOAT32);
        writer.u64(BigInt(value.value.length));
        for (const item of value.value) writer.f32(item);
      }
      return;
  }
}

function readValue(reader: ByteReader, type: number): unknown {
  switch (type) {
    case GgufType.UINT8:
      return reader.u8();
    case GgufType.INT8:
      return (reader.u8() << 24) >> 24;
    case GgufType.UINT16:
      return reader.u16();
    case GgufType.INT16:
      return (reader.u16() << 16) >> 16;
    case GgufType.UINT32:
      return reader.u32();
    case GgufType.INT32:
      return reader.i32();
    case GgufType.FLOAT32:
      return reader.f32();
    case GgufType.BOOL:
      return reader.u8() !== 0;
    case GgufType.STRING:
      return reader.string();
    case GgufType.UINT64:
      return reader.u64();
    case GgufType.INT64:
      return reader.i64();
    case GgufType.FLOAT64:
      return reader.f64();
    case GgufType.ARRAY: {
      const elementType = reader.u32();
      const count = Number(reader.u64());
      return Array.from({ length: count }, () => readValue(reader, elementType));
    }
    default:
      throw new GgufFormatError(undefined, `unknown GGUF value type ${type}`);
  }
}

/** Appends little-endian values to a growing buffer. */
class ByteWriter {
  private buffer = Buffer.alloc(1 << 16);
  private length = 0;
  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const grown = Buffer.alloc(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }
  u8(value: number): void {
    this.reserve(1);
    this.buffer.writeUInt8(value, this.length);
    this.length += 1;
  }
  u32(value: number): void {
    this.reserve(4);
    this.buffer.writeUInt32LE(value, this.length);
    this.length += 4;
  }
  i32(value: number): void {
    this.reserve(4);
    this.buffer.writeInt32LE(value, this.length);
    this.length += 4;
  }
  f32(value: number): void {
    this.reserve(4);
    this.buffer.writeFloatLE(value, this.length);
    this.length += 4;
  }
  u64(value: bigint): void {
    this.reserve(8);
    this.buffer.writeBigUInt64LE(value, this.length);
    this.length += 8;
  }
  string(value: string): void {
    const bytes = Buffer.from(value, 'utf8');
    this.u64(BigInt(bytes.length));
    this.reserve(bytes.length);
    bytes.copy(this.buffer, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/** Reads little-endian values from a buffer. */
class ByteReader {
  position = 0;
  constructor(private readonly buffer: Buffer) {}
  u8(): number {
    return this.buffer.readUInt8(this.position++);
  }
  u16(): number {
    const value = this.buffer.readUInt16LE(this.position);
    this.position += 2;
    return value;
  }
  u32(): number {
    const value = this.buffer.readUInt32LE(this.position);
    this.position += 4;
    return value;
  }
  i32(): number {
    const value = this.buffer.readInt32LE(this.position);
    this.position += 4;
    return value;
  }
  f32(): number {
    const value = this.buffer.readFloatLE(this.position);
    this.position += 4;
    return value;
  }
  f64(): number {
    const value = this.buffer.readDoubleLE(this.position);
    this.position += 8;
    return value;
  }
  u64(): bigint {
    const value = this.buffer.readBigUInt64LE(this.position);
    this.position += 8;
    return value;
  }
  i64(): bigint {
    const value = this.buffer.readBigInt64LE(this.position);
    this.position += 8;
    return value;
  }
  string(): string {
    const length = Number(this.u64());
    const value = this.buffer.toString('utf8', this.position, this.position + length);
    this.position += length;
    return value;
  }
}
