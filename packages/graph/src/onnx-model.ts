// Serialises a Graph to an ONNX ModelProto through protobufjs and the vendored official schema
// (schema/onnx.proto3). Only nodes that the requested outputs need are written (dead-node
// elimination), and only the inputs those nodes read.

import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '@sr1/core';
import protobuf from 'protobufjs';
import type { DType } from './dtype.js';
import { ONNX_DTYPE } from './dtype.js';
import { GraphBuildError } from './errors.js';
import type { Attribute, ConstantData, Graph, Tensor } from './graph.js';
import type { FlatNode } from './optimize.js';
import { flattenGraph, optimizeGraph } from './optimize.js';
import { pruneGraph } from './prune.js';
import { isUnknown, staticSize } from './shape.js';

/** Default ONNX opset: the newest that onnxruntime-node 1.30 runs with every op used here. */
export const DEFAULT_OPSET = 21;

let cachedRoot: protobuf.Root | undefined;

/** Loads the vendored onnx.proto3 (works from src/ in tests and dist/ when built). */
export function onnxSchema(): protobuf.Root {
  if (cachedRoot !== undefined) return cachedRoot;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', 'schema', 'onnx.proto3'),
    join(here, '..', '..', 'schema', 'onnx.proto3'),
  ];
  const file = candidates.find((c) => existsSync(c));
  if (file === undefined)
    throw new GraphBuildError(`onnx.proto3 not found (looked in ${candidates.join(', ')})`);
  cachedRoot = protobuf.loadSync(file);
  return cachedRoot;
}

/** Options of `toModelProto` / `serializeGraph`. */
export interface SerializeOptions {
  /** Outputs to keep (default: the graph's declared outputs). */
  outputs?: readonly Tensor[];
  /** ONNX default-domain opset (≤ 26). */
  opset?: number;
  /** Run the small optimiser (shape folding, transpose folding, CSE); default true. */
  optimize?: boolean;
  /**
   * Graph inputs to write as initializers with this data, by input name (e.g. the weights): the
   * session then holds them (device-resident on a GPU, copied once) and they are no longer fed.
   * Dtype and shape must match the input's declaration.
   */
  initializers?: Readonly<Record<string, ConstantData>>;
}

/** Options of `serializeGraphWithExternalData` / `writeModel`. */
export interface ExternalDataOptions extends SerializeOptions {
  /** File name of the tensor data, relative to the model file (ONNX's `location`). */
  location: string;
  /** Initializers of at least this many bytes go to the data file (default 1024: small constants stay inline). */
  threshold?: number;
}

function rawBytes(value: ConstantData): Uint8Array {
  const data = value.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Where external tensor bytes go while a model is written: the data file's name and its chunks. */
interface ExternalSink {
  location: string;
  threshold: number;
  chunks: Uint8Array[];
  length: number;
}

const EXTERNAL_ALIGNMENT = 4096; // ONNX's own writer aligns large tensors so that ORT can mmap them

function externalTensorProto(name: string, value: ConstantData, sink: ExternalSink): Record<string, unknown> {
  const bytes = rawBytes(value);
  const padding = (EXTERNAL_ALIGNMENT - (sink.length % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
  if (padding > 0) sink.chunks.push(new Uint8Array(padding));
  const offset = sink.length + padding;
  sink.chunks.push(bytes);
  sink.length = offset + bytes.byteLength;
  return {
    name,
    dataType: ONNX_DTYPE[value.dtype],
    dims: [...value.shape],
    dataLocation: 1, // EXTERNAL
    externalData: [
      { key: 'location', value: sink.location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(bytes.byteLength) },
    ],
  };
}

function tensorProto(name: string, value: ConstantData): Record<string, unknown> {
  return { name, dataType: ONNX_DTYPE[value.dtype], dims: [...value.shape], rawData: rawBytes(value) };
}

function attributeProto(name: string, attribute: Attribute): Record<string, unknown> {
  // AttributeProto.AttributeType: FLOAT=1 INT=2 STRING=3 TENSOR=4 FLOATS=6 INTS=7
  switch (attribute.type) {
    case 'float':
      return { name, type: 1, f: attribute.value };
    case 'int':
      return { name, type: 2, i: attribute.value };
    case 'string':
      return { name, type: 3, s: new TextEncoder().encode(attribute.value) };
    case 'tensor':
      return { name, type: 4, t: tensorProto('', attribute.value) };
    case 'floats':
      return { name, type: 6, floats: [...attribute.value] };
    case 'ints':
      return { name, type: 7, ints: [...attribute.value] };
    case 'graph':
      return { name, type: 5, g: subgraphProto(attribute.value) };
  }
}

/**
 * A subgraph (a Loop body) as a GraphProto: every declared input (ONNX fixes their order), the
 * nodes its outputs need, its own initializers; outer-scope values are referenced by name only.
 * Not optimised: the optimiser's renames do not see references from inside subgraphs.
 */
function subgraphProto(graph: Graph): Record<string, unknown> {
  const flat = flattenGraph(pruneGraph(graph));
  return {
    name: graph.name,
    node: flat.nodes.map(nodeProto),
    initializer: [...flat.initializers].map(([name, value]) => tensorProto(name, value)),
    input: graph.inputs.map((input) => valueInfo(input.tensor)),
    output: flat.outputs.map(valueInfo),
  };
}

function nodeProto(n: FlatNode): Record<string, unknown> {
  return {
    name: n.name,
    opType: n.opType,
    domain: n.domain,
    input: n.inputs,
    output: n.outputs,
    attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
  };
}

/** Whether a graph holds a subgraph (a Loop); such graphs skip @sr1/graph's optimiser. */
function hasSubgraph(graph: Graph): boolean {
  return graph.nodes.some((n) => Object.values(n.attributes).some((a) => a.type === 'graph'));
}

function valueInfo(t: Tensor): Record<string, unknown> {
  const dim = t.shape.map((d) => {
    if (typeof d === 'number') return { dimValue: d };
    if (isUnknown(d)) return {};
    return { dimParam: d };
  });
  return { name: t.name, type: { tensorType: { elemType: ONNX_DTYPE[t.dtype as DType], shape: { dim } } } };
}

/** The ModelProto (as a protobufjs message) of `graph` restricted to `options.outputs`. */
export function toModelProto(graph: Graph, options: SerializeOptions = {}): protobuf.Message {
  return buildModelProto(graph, options, undefined);
}

function buildModelProto(
  graph: Graph,
  options: SerializeOptions,
  sink: ExternalSink | undefined,
): protobuf.Message {
  const opset = Math.max(options.opset ?? DEFAULT_OPSET, graph.minimumOpset);
  if (opset > 26) throw new GraphBuildError(`opset ${opset} is newer than 26`);
  const pruned = pruneGraph(graph, options.outputs ?? graph.outputs);
  if (pruned.outputs.length === 0) throw new GraphBuildError(`graph '${graph.name}' has no outputs`);
  let flat = flattenGraph(pruned);
  if ((options.optimize ?? true) && !hasSubgraph(graph))
    flat = optimizeGraph(flat, valuesByName(graph)).graph;
  const given = options.initializers ?? {};
  const declared = new Map(graph.inputs.map((input) => [input.tensor.name, input.tensor]));
  for (const [name, value] of Object.entries(given)) {
    const input = declared.get(name);
    if (input === undefined)
      throw new InvalidInputError({ field: name, reason: `is not an input of graph '${graph.name}'` });
    const shapeMatches =
      input.shape.length === value.shape.length && input.shape.every((d, i) => d === value.shape[i]);
    if (input.dtype !== value.dtype || !shapeMatches || value.data.length !== staticSize(value.shape))
      throw new InvalidInputError({
        field: name,
        reason: `initializer data ${value.dtype} (${value.shape.join(', ')}) with ${value.data.length} values; the input is ${input.dtype} (${input.shape.join(', ')})`,
      });
  }
  const initializers = new Map(flat.initializers);
  for (const input of flat.inputs) {
    const value = given[input.name];
    if (value !== undefined) initializers.set(input.name, value);
  }
  const encodeTensor = (name: string, value: ConstantData) =>
    sink !== undefined && value.data.byteLength >= sink.threshold
      ? externalTensorProto(name, value, sink)
      : tensorProto(name, value);
  const root = onnxSchema();
  const ModelProto = root.lookupType('onnx.ModelProto');
  const opsetImport = [{ domain: '', version: opset }];
  for (const [domain, version] of graph.opsetImports) opsetImport.push({ domain, version });
  const model = {
    irVersion: opset >= 23 ? 11 : 10,
    producerName: 'sr1-graph',
    opsetImport,
    graph: {
      name: graph.name,
      node: flat.nodes.map(nodeProto),
      initializer: [...initializers].map(([name, value]) => encodeTensor(name, value)),
      input: flat.inputs.filter((input) => given[input.name] === undefined).map(valueInfo),
      output: flat.outputs.map(valueInfo),
    },
  };
  const error = ModelProto.verify(model);
  if (error !== null) throw new GraphBuildError(`invalid ModelProto: ${error}`);
  return ModelProto.fromObject(model);
}

/** Every named value of a graph (inputs, initializers, node outputs), for the optimiser's shape lookups. */
export function valuesByName(graph: Graph): Map<string, Tensor> {
  const values = new Map<string, Tensor>();
  for (const input of graph.inputs) values.set(input.tensor.name, input.tensor);
  for (const [name, entry] of graph.initializers) values.set(name, entry.tensor);
  for (const node of graph.nodes) for (const output of node.outputs) values.set(output.name, output);
  return values;
}

/** Serialises `graph` to ONNX protobuf bytes. */
export function serializeGraph(graph: Graph, options: SerializeOptions = {}): Uint8Array {
  const message = toModelProto(graph, options);
  return onnxSchema().lookupType('onnx.ModelProto').encode(message).finish();
}

/**
 * Serialises `graph` with its large initializers in a separate data buffer (ONNX external data),
 * for models over protobuf's 2 GB limit. Write `data` to `options.location` beside the model file
 * and load the model from its path (`createSession(path)`); `writeModel` does both writes.
 */
export function serializeGraphWithExternalData(
  graph: Graph,
  options: ExternalDataOptions,
): { model: Uint8Array; data: Uint8Array } {
  const sink: ExternalSink = {
    location: options.location,
    threshold: options.threshold ?? 1024,
    chunks: [],
    length: 0,
  };
  const message = buildModelProto(graph, options, sink);
  const model = onnxSchema().lookupType('onnx.ModelProto').encode(message).finish();
  const data = new Uint8Array(sink.length);
  let offset = 0;
  for (const chunk of sink.chunks) {
    data.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { model, data };
}

/** Writes `graph` to `modelPath` with its large initializers in `options.location` beside it. */
export function writeModel(graph: Graph, modelPath: string, options: ExternalDataOptions): void {
  const { model, data } = serializeGraphWithExternalData(graph, options);
  writeFileSync(join(dirname(modelPath), options.location), data);
  writeFileSync(modelPath, model);
}

/** Decodes ONNX bytes into a plain object (for inspection and tests). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const ModelProto = onnxSchema().lookupType('onnx.ModelProto');
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false });
}
