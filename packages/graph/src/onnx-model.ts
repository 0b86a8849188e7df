// Serialises a Graph to an ONNX ModelProto through protobufjs and the vendored official schema
// (schema/onnx.proto3). Only nodes that the requested outputs need are written (dead-node
// elimination), and only the inputs those nodes read.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { DType } from './dtype.js';
import { ONNX_DTYPE } from './dtype.js';
import { GraphBuildError } from './errors.js';
import type { Attribute, ConstantData, Graph, Tensor } from './graph.js';
import { flattenGraph, optimizeGraph } from './optimize.js';
import { pruneGraph } from './prune.js';
import { isUnknown } from './shape.js';

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
}

function rawBytes(value: ConstantData): Uint8Array {
  const data = value.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
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
  }
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
  const opset = Math.max(options.opset ?? DEFAULT_OPSET, graph.minimumOpset);
  if (opset > 26) throw new GraphBuildError(`opset ${opset} is newer than 26`);
  const pruned = pruneGraph(graph, options.outputs ?? graph.outputs);
  if (pruned.outputs.length === 0) throw new GraphBuildError(`graph '${graph.name}' has no outputs`);
  let flat = flattenGraph(pruned);
  if (options.optimize ?? true) flat = optimizeGraph(flat, valuesByName(graph)).graph;
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
      node: flat.nodes.map((n) => ({
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes).map(([k, v]) => attributeProto(k, v)),
      })),
      initializer: [...flat.initializers].map(([name, value]) => tensorProto(name, value)),
      input: flat.inputs.map(valueInfo),
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

/** Decodes ONNX bytes into a plain object (for inspection and tests). */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const ModelProto = onnxSchema().lookupType('onnx.ModelProto');
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: false });
}
