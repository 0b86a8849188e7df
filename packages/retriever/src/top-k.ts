// Bounded top-k selection (a min-heap of size k) used by every searcher: higher score first, ties
// broken by the lower internal index, as Lucene breaks ties by doc id.

import { RetrieverInputError } from './errors.js';
/** One ranked candidate: internal passage index and its score. */
export interface ScoredIndex {
  index: number;
  score: number;
}

/** Keeps the k best (score desc, index asc) of the values pushed into it. */
export class TopK {
  private readonly k: number;
  private readonly scores: Float64Array;
  private readonly indices: Int32Array;
  private size = 0;

  constructor(k: number) {
    if (!Number.isInteger(k) || k < 0)
      throw new RetrieverInputError('k', `TopK needs a non-negative integer k, got ${k}`);
    this.k = k;
    this.scores = new Float64Array(Math.max(k, 1));
    this.indices = new Int32Array(Math.max(k, 1));
  }

  /** True when (scoreA, indexA) ranks below (scoreB, indexB). */
  private static worse(scoreA: number, indexA: number, scoreB: number, indexB: number): boolean {
    return scoreA < scoreB || (scoreA === scoreB && indexA > indexB);
  }

  /** The score a new candidate must beat to enter (−∞ while not full). */
  threshold(): number {
    return this.size < this.k ? Number.NEGATIVE_INFINITY : this.scores[0]!;
  }

  push(index: number, score: number): void {
    if (this.k === 0) return;
    if (this.size < this.k) {
      let position = this.size++;
      while (position > 0) {
        const parent = (position - 1) >> 1;
        if (!TopK.worse(score, index, this.scores[parent]!, this.indices[parent]!)) break;
        this.scores[position] = this.scores[parent]!;
        this.indices[position] = this.indices[parent]!;
        position = parent;
      }
      this.scores[position] = score;
      this.indices[position] = index;
      return;
    }
    if (!TopK.worse(this.scores[0]!, this.indices[0]!, score, index)) return;
    let position = 0;
    for (;;) {
      const left = 2 * position + 1;
      if (left >= this.size) break;
      const right = left + 1;
      let child = left;
      if (
        right < this.size &&
        TopK.worse(this.scores[right]!, this.indices[right]!, this.scores[left]!, this.indices[left]!)
      ) {
        child = right;
      }
      if (!TopK.worse(this.scores[child]!, this.indices[child]!, score, index)) break;
      this.scores[position] = this.scores[child]!;
      this.indices[position] = this.indices[child]!;
      position = child;
    }
    this.scores[position] = score;
    this.indices[position] = index;
  }

  /** The kept candidates, best first. */
  sorted(): ScoredIndex[] {
    const out: ScoredIndex[] = [];
    for (let i = 0; i < this.size; i++) out.push({ index: this.indices[i]!, score: this.scores[i]! });
    out.sort((a, b) => b.score - a.score || a.index - b.index);
    return out;
  }
}
