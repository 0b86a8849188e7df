// The dense-encoder seam: anything that turns texts into L2-normalised vectors of a fixed
// dimension. Two implementations ship: a local ONNX sentence-embedding model (onnx-encoder.ts)
// and a model-free hashing encoder (hashing-encoder.ts).

/** Whether a text is a search query or a corpus passage (e5/bge-style models prefix them differently). */
export type EncodeRole = 'query' | 'passage';

/** Turns texts into unit-length vectors; inner product = cosine similarity. */
export interface Encoder {
  /** Stable identifier of the encoder and its parameters, recorded in the index manifest. */
  readonly id: string;
  /** Vector dimension. */
  readonly dimension: number;
  /**
   * Encodes a batch. Returns the vectors row-major, shape (texts.length, dimension), each row
   * L2-normalised (an all-zero row stays zero).
   */
  encode(texts: readonly string[], role: EncodeRole): Promise<Float32Array>;
  /** Releases native resources, if any. */
  dispose?(): Promise<void>;
}

/** Normalises each row of a (rows, dimension) matrix to unit L2 norm, in place; zero rows stay zero. */
export function normalizeRows(matrix: Float32Array, dimension: number): Float32Array {
  const rows = matrix.length / dimension;
  for (let row = 0; row < rows; row++) {
    const start = row * dimension;
    let sum = 0;
    for (let i = start; i < start + dimension; i++) sum += matrix[i]! * matrix[i]!;
    if (sum === 0) continue;
    const scale = 1 / Math.sqrt(sum);
    for (let i = start; i < start + dimension; i++) matrix[i]! *= scale;
  }
  return matrix;
}
