// A real, tiny lexical retriever for tests: Okapi BM25 over a handful of passages in memory,
// returning `SearchHit`s exactly as `@sr1/retriever` shapes them. It records every call.

import passages from '../__fixtures__/passages.json' with { type: 'json' };
import type { OpenedDocument, Retriever, SearchHit } from '../types.js';

/** A corpus document in Search-R1 format: `contents` is `"Title"\ntext`. */
export interface CorpusDocument {
  id: string;
  contents: string;
}

/** Twelve real Wikipedia passages from the shared corpus (see `__fixtures__/README.md`). */
export const SAMPLE_PASSAGES: readonly CorpusDocument[] = passages;

function terms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/**
 * BM25 (k1 = 0.9, b = 0.4, Pyserini's defaults) over in-memory documents; ties by corpus order.
 * `open` returns a passage itself (`whole: false`), as `@sr1/retriever` does for a passage corpus.
 */
export class InMemoryRetriever implements Retriever {
  readonly calls: { queries: string[]; topk: number }[] = [];
  readonly openCalls: string[][] = [];
  private readonly termCounts: Map<string, number>[];
  private readonly lengths: number[];
  private readonly documentFrequency = new Map<string, number>();
  private readonly averageLength: number;

  constructor(private readonly documents: readonly CorpusDocument[] = SAMPLE_PASSAGES) {
    this.termCounts = documents.map((doc) => {
      const counts = new Map<string, number>();
      for (const term of terms(doc.contents)) counts.set(term, (counts.get(term) ?? 0) + 1);
      for (const term of counts.keys())
        this.documentFrequency.set(term, (this.documentFrequency.get(term) ?? 0) + 1);
      return counts;
    });
    this.lengths = documents.map((doc) => terms(doc.contents).length);
    this.averageLength = this.lengths.reduce((sum, n) => sum + n, 0) / Math.max(1, documents.length);
  }

  async search(queries: readonly string[], topk: number): Promise<SearchHit[][]> {
    this.calls.push({ queries: [...queries], topk });
    return queries.map((query) => this.searchOne(query, topk));
  }

  async open(ids: readonly string[]): Promise<(OpenedDocument | null)[]> {
    this.openCalls.push([...ids]);
    return ids.map((id) => {
      const doc = this.documents.find((candidate) => candidate.id === id);
      if (doc === undefined) return null;
      const { title, text } = splitContents(doc.contents);
      return { id, title, text, whole: false };
    });
  }

  private searchOne(query: string, topk: number): SearchHit[] {
    const n = this.documents.length;
    const scored: { index: number; score: number }[] = [];
    this.termCounts.forEach((counts, index) => {
      let score = 0;
      for (const term of terms(query)) {
        const tf = counts.get(term);
        if (tf === undefined) continue;
        const df = this.documentFrequency.get(term)!;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += (idf * tf * 1.9) / (tf + 0.9 * (0.6 + (0.4 * this.lengths[index]!) / this.averageLength));
      }
      if (score > 0) scored.push({ index, score });
    });
    scored.sort((a, b) => b.score - a.score || a.index - b.index);
    return scored.slice(0, topk).map(({ index, score }) => {
      const doc = this.documents[index]!;
      return { id: doc.id, ...splitContents(doc.contents), contents: doc.contents, score };
    });
  }
}

/** Title (first line, quotes removed) and text (the rest) of `contents`. */
function splitContents(contents: string): { title: string; text: string } {
  const newline = contents.indexOf('\n');
  const firstLine = newline < 0 ? contents : contents.slice(0, newline);
  return { title: firstLine.replace(/^"(.*)"$/, '$1'), text: newline < 0 ? '' : contents.slice(newline + 1) };
}
