// A small graph optimiser run at serialisation: folds shape arithmetic on static dims into
// constants, cancels and composes chained Transposes (the MatMul gradient transposes an already
// transposed weight), merges identical nodes (CSE), and drops what no output needs.

import type { Attribute, ConstantData, Tensor } from './graph.js';
import type { PrunedGraph } from './prune.js';

/** A node by value names, the form the optimiser rewrites. */
export interface FlatNode {
  name: string;
  opType: string;
  domain: string;
  /** '' for an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

/** A graph ready to serialise. */
export interface FlatGraph {
  nodes: FlatNode[];
  inputs: Tensor[];
  outputs: Tensor[];
  initializers: Map<string, ConstantData>;
}

/** Counts before and after `optimizeGraph`. */
export interface OptimizeStats {
  nodesBefore: number;
  nodesAfter: number;
  foldedShapes: number;
  foldedTransposes: number;
  mergedNodes: number;
}

/** The flat form of a pruned graph (no rewriting). */
export function flattenGraph(pruned: PrunedGraph): FlatGraph {
  return {
    nodes: pruned.nodes.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      inputs: n.inputs.map((i) => (i === null ? '' : i.name)),
      outputs: n.outputs.map((o) => o.name),
      attributes: { ...n.attributes },
    })),
    inputs: [...pruned.inputs],
    outputs: [...pruned.outputs],
    initializers: new Map(pruned.initializers.map((i) => [i.tensor.name, i.value])),
  };
}

function attributeKey(attribute: Attribute): string {
  if (attribute.type === 'tensor') {
    const v = attribute.value;
    return `t:${v.dtype}:${v.shape.join(',')}:${Array.from(v.data as ArrayLike<number | bigint>, String).join(',')}`;
  }
  return `${attribute.type}:${JSON.stringify(attribute.value)}`;
}

function int64Values(initializers: Map<string, ConstantData>, name: string): number[] | undefined {
  const value = initializers.get(name);
  if (value === undefined || value.dtype !== 'int64' || value.data.length > 64) return undefined;
  return Array.from(value.data as BigInt64Array, Number);
}

function int64Constant(values: readonly number[], shape: readonly number[]): ConstantData {
  return { dtype: 'int64', shape, data: BigInt64Array.from(values.map(BigInt)) };
}

/**
 * Rewrites `flat` in place-free fashion. `shapes` gives the static shape knowledge of every value
 * by name (from the builder). Semantics are preserved exactly; only int64 shape arithmetic is
 * evaluated here, float math is left to ORT.
 */
export function optimizeGraph(
  flat: FlatGraph,
  shapes: ReadonlyMap<string, Tensor>,
): { graph: FlatGraph; stats: OptimizeStats } {
  const stats: OptimizeStats = {
    nodesBefore: flat.nodes.length,
    nodesAfter: 0,
    foldedShapes: 0,
    foldedTransposes: 0,
    mergedNodes: 0,
  };
  const initializers = new Map(flat.initializers);
  const protectedNames = new Set(flat.outputs.map((o) => o.name));
  const rename = new Map<string, string>();
  const resolve = (name: string): string => {
    let current = name;
    for (let next = rename.get(current); next !== undefined; next = rename.get(current)) current = next;
    return current;
  };
  const producers = new Map<string, FlatNode>();
  const seen = new Map<string, FlatNode>();
  const nodes: FlatNode[] = [];
  let constantCounter = 0;

  /** Replaces a node's single output by a constant (when the output is not a graph output). */
  const foldTo = (node: FlatNode, value: ConstantData): boolean => {
    const out = node.outputs[0]!;
    if (protectedNames.has(out)) return false;
    constantCounter += 1;
    const name = `${out}__folded${constantCounter}`;
    initializers.set(name, value);
    rename.set(out, name);
    return true;
  };

  for (const original of flat.nodes) {
    const node: FlatNode = { ...original, inputs: original.inputs.map((i) => (i === '' ? '' : resolve(i))) };
    const { opType, domain } = node;
    if (domain === '') {
      // Shape of a statically known tensor → constant.
      if (opType === 'Shape') {
        const source = shapes.get(node.inputs[0]!);
        if (source?.shape.every((d) => typeof d === 'number')) {
          const dims = source.shape as number[];
          const rank = dims.length;
          const startAttr = node.attributes.start;
          const endAttr = node.attributes.end;
          let start = startAttr?.type === 'int' ? startAttr.value : 0;
          let end = endAttr?.type === 'int' ? endAttr.value : rank;
          if (start < 0) start += rank;
          if (end < 0) end += rank;
          const values = dims.slice(Math.max(0, start), Math.min(rank, end));
          if (foldTo(node, int64Constant(values, [values.length]))) {
            stats.foldedShapes += 1;
            continue;
          }
        }
      }
      // int64 arithmetic on constants (the gradient rules' pads and offsets).
      const constInputs = node.inputs.map((i) => (i === '' ? undefined : int64Values(initializers, i)));
      if ((opType === 'Add' || opType === 'Sub') && constInputs.every((c) => c !== undefined)) {
        const [a, b] = constInputs as [number[], number[]];
        const ia = initializers.get(node.inputs[0]!)!;
        const ib = initializers.get(node.inputs[1]!)!;
        if (ia.shape.length === ib.shape.length && a.length === b.length) {
          const values = a.map((x, k) => (opType === 'Add' ? x + b[k]! : x - b[k]!));
          if (foldTo(node, int64Constant(values, ia.shape))) {
            stats.foldedShapes += 1;
            continue;
          }
        }
      }
      if (opType === 'Concat' && constInputs.every((c) => c !== undefined)) {
        const ranks = node.inputs.map((i) => initializers.get(i)!.shape.length);
        if (ranks.every((r) => r === 1)) {
          const values = (constInputs as number[][]).flat();
          if (foldTo(node, int64Constant(values, [values.length]))) {
            stats.foldedShapes += 1;
            continue;
          }
        }
      }
      if (
        opType === 'Squeeze' &&
        constInputs[0] !== undefined &&
        initializers.get(node.inputs[0]!)!.shape.length === 1
      ) {
        const values = constInputs[0];
        if (values.length === 1 && foldTo(node, int64Constant(values, []))) {
          stats.foldedShapes += 1;
          continue;
        }
      }
      // Transpose ∘ Transpose → one Transpose, or nothing.
      if (opType === 'Transpose') {
        const inner = producers.get(node.inputs[0]!);
        const outer = node.attributes.perm;
        const innerPerm = inner?.attributes.perm;
        if (
          inner !== undefined &&
          inner.opType === 'Transpose' &&
          inner.domain === '' &&
          outer?.type === 'ints' &&
          innerPerm?.type === 'ints'
        ) {
          const composed = outer.value.map((p) => innerPerm.value[p]!);
          const source = inner.inputs[0]!;
          stats.foldedTransposes += 1;
          if (composed.every((p, i) => p === i)) {
            const out = node.outputs[0]!;
            if (!protectedNames.has(out)) {
              rename.set(out, source);
              continue;
            }
            // A graph output (e.g. a weight gradient): rename the source value to the output's
            // name everywhere (its producer, nodes already emitted, and later ones via `rename`).
            const sourceProducer = producers.get(source);
            if (sourceProducer !== undefined && !protectedNames.has(source)) {
              sourceProducer.outputs = sourceProducer.outputs.map((o) => (o === source ? out : o));
              for (const emitted of nodes)
                emitted.inputs = emitted.inputs.map((i) => (i === source ? out : i));
              producers.set(out, sourceProducer);
              rename.set(source, out);
              continue;
            }
          }
          node.inputs = [source];
          node.attributes = { ...node.attributes, perm: { type: 'ints', value: composed } };
        }
      }
    }
    // Common subexpressions: same op, inputs and attributes → reuse the first node's outputs.
    const key = `${domain}|${opType}|${node.inputs.join(',')}|${Object.entries(node.attributes)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${attributeKey(v)}`)
      .join(';')}`;
    const previous = seen.get(key);
    if (
      previous !== undefined &&
      previous.outputs.length === node.outputs.length &&
      !node.outputs.some((o) => protectedNames.has(o))
    ) {
      node.outputs.forEach((o, i) => {
        rename.set(o, previous.outputs[i]!);
      });
      stats.mergedNodes += 1;
      continue;
    }
    seen.set(key, node);
    for (const o of node.outputs) producers.set(o, node);
    nodes.push(node);
  }

  // Dead-node elimination after the rewrites.
  const needed = new Set(flat.outputs.map((o) => o.name));
  const kept: FlatNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const input of node.inputs) if (input !== '') needed.add(input);
  }
  kept.reverse();
  for (const name of [...initializers.keys()]) if (!needed.has(name)) initializers.delete(name);
  stats.nodesAfter = kept.length;
  return {
    graph: {
      nodes: kept,
      inputs: flat.inputs.filter((t) => needed.has(t.name)),
      outputs: flat.outputs,
      initializers,
    },
    stats,
  };
}
