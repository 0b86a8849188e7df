// Errors thrown by @sr1/graph: shape mismatches found while a graph is built, gradients that
// cannot be emitted, and execution providers that are not available on this machine.

import { Sr1Error } from '@sr1/core';
import { formatShape, type Shape } from './shape.js';

/** An operator's inputs do not fit together; names the op, the node and every input shape. */
export class GraphShapeError extends Sr1Error {
  readonly opType: string;
  readonly nodeName: string;
  readonly shapes: readonly Shape[];
  readonly reason: string;
  constructor(fields: { opType: string; nodeName: string; shapes: readonly Shape[]; reason: string }) {
    super(
      'graph_shape_mismatch',
      `${fields.opType} '${fields.nodeName}': ${fields.reason}; input shapes ${fields.shapes.map(formatShape).join(' and ')}`,
    );
    this.opType = fields.opType;
    this.nodeName = fields.nodeName;
    this.shapes = fields.shapes;
    this.reason = fields.reason;
  }
}

/** Misuse of the graph builder: a tensor from another graph, a duplicate name, a bad attribute. */
export class GraphBuildError extends Sr1Error {
  constructor(message: string) {
    super('graph_build', message);
  }
}

/** The autodiff met an op it cannot differentiate (or an input it cannot reduce back to). */
export class GradientError extends Sr1Error {
  readonly opType: string;
  constructor(opType: string, message: string) {
    super('gradient_unavailable', `${opType}: ${message}`);
    this.opType = opType;
  }
}

/** The requested execution device cannot be used; `missing` lists what was not found. */
export class DeviceUnavailableError extends Sr1Error {
  readonly device: string;
  readonly missing: readonly string[];
  constructor(
    fields: { device: string; missing: readonly string[]; remedy: string },
    options?: { cause?: unknown },
  ) {
    super(
      'device_unavailable',
      `device '${fields.device}' is unavailable: missing ${fields.missing.join('; ')}. ${fields.remedy}`,
      options,
    );
    this.device = fields.device;
    this.missing = fields.missing;
  }
}
