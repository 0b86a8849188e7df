// Dead-node elimination: the nodes, inputs and initializers that a set of outputs depends on.
// Its own module so that the serialiser (onnx-model.ts) and the optimiser (optimize.ts) both
// import it without importing each other.

import type { ConstantData, Graph, Node, Tensor } from './graph.js';

/** The pruned contents of a graph for a set of outputs. */
export interface PrunedGraph {
  nodes: Node[];
  inputs: Tensor[];
  initializers: { tensor: Tensor; value: ConstantData }[];
  outputs: Tensor[];
}

/** Keeps the nodes, inputs and initializers that `outputs` depend on, in topological order. */
export function pruneGraph(graph: Graph, outputs: readonly Tensor[] = graph.outputs): PrunedGraph {
  const needed = new Set<Tensor>(outputs);
  const keep = new Set<Node>();
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    keep.add(node);
    for (const input of node.inputs) if (input !== null) needed.add(input);
    for (const input of node.implicitInputs ?? []) needed.add(input); // read by a subgraph
  }
  return {
    nodes: graph.nodes.filter((n) => keep.has(n)),
    inputs: graph.inputs.map((i) => i.tensor).filter((t) => needed.has(t)),
    initializers: [...graph.initializers.values()].filter((i) => needed.has(i.tensor)),
    outputs: [...outputs],
  };
}
