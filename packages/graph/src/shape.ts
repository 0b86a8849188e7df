// Shapes with symbolic dimensions. A dim is a number, a name ('batch', 'seq'), a canonical sum of
// names and a constant ('new+past'), or an unknown ('?12') that inference could not pin down.

/** One dimension: a size, a symbol, a sum of symbols, or an unknown (`?n`). */
export type Dim = number | string;
/** A tensor shape, outermost first. */
export type Shape = readonly Dim[];

let unknownCounter = 0;

/** A fresh unknown dimension. */
export function unknownDim(): string {
  unknownCounter += 1;
  return `?${unknownCounter}`;
}

/** Whether a dim is an unknown produced by inference. */
export function isUnknown(dim: Dim): boolean {
  return typeof dim === 'string' && dim.startsWith('?');
}

/** Parses a symbolic sum into its terms and constant part. */
function terms(dim: Dim): { symbols: string[]; constant: number } {
  if (typeof dim === 'number') return { symbols: [], constant: dim };
  const symbols: string[] = [];
  let constant = 0;
  for (const part of dim.split('+')) {
    const trimmed = part.trim();
    if (/^-?\d+$/.test(trimmed)) constant += Number(trimmed);
    else symbols.push(trimmed);
  }
  return { symbols, constant };
}

/** Canonical form of a dim: symbol terms sorted, constants folded ('past + new' → 'new+past'). */
export function canonicalDim(dim: Dim): Dim {
  if (typeof dim === 'number' || isUnknown(dim)) return dim;
  const { symbols, constant } = terms(dim);
  if (symbols.length === 0) return constant;
  symbols.sort();
  return constant === 0 ? symbols.join('+') : `${symbols.join('+')}+${constant}`;
}

/** Sum of two dims, symbolic where needed. */
export function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (isUnknown(a) || isUnknown(b)) return unknownDim();
  const ta = terms(a);
  const tb = terms(b);
  return canonicalDim([...ta.symbols, ...tb.symbols, String(ta.constant + tb.constant)].join('+'));
}

/** Whether two dims are known to be equal. */
export function sameDim(a: Dim, b: Dim): boolean {
  return canonicalDim(a) === canonicalDim(b);
}

/** Number of elements when every dim is numeric, else undefined. */
export function staticSize(shape: Shape): number | undefined {
  let size = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number') return undefined;
    size *= dim;
  }
  return size;
}

/**
 * Numpy broadcasting of two dims. Returns the result dim, or undefined when they cannot match.
 * Two different symbols do not broadcast (the builder treats names as meaningful); an unknown
 * defers to the other side.
 */
export function broadcastDim(a: Dim, b: Dim): Dim | undefined {
  if (sameDim(a, b)) return canonicalDim(a);
  if (a === 1) return b;
  if (b === 1) return a;
  if (isUnknown(a)) return b;
  if (isUnknown(b)) return a;
  return undefined;
}

/** Numpy broadcasting of whole shapes (right-aligned). Undefined when incompatible. */
export function broadcastShapes(shapes: readonly Shape[]): Dim[] | undefined {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const shape of shapes) {
      const d = shape[shape.length - rank + i] ?? 1;
      const next = broadcastDim(dim, d);
      if (next === undefined) return undefined;
      dim = next;
    }
    out.push(dim);
  }
  return out;
}

/** Normalises a possibly negative axis against a rank; undefined when out of range. */
export function normalizeAxis(axis: number, rank: number): number | undefined {
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : undefined;
}

/** A shape as errors print it: `(2, 3, 'batch')` → `(2, 3, batch)`. */
export function formatShape(shape: readonly Dim[]): string {
  return `(${shape.join(', ')})`;
}
