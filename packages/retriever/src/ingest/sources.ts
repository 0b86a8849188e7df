// Where each passage of an ingested index came from, stored beside the index's document store:
// `ingest/sources.jsonl` (one source per passage, in passage order, served as is next to the
// document), `ingest/documents.jsonl` (the whole text of each document), and
// `ingest/passage-documents.u32` (passage → document). Plain corpus indexes have none of these.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PassageSource } from '@sr1/spec';
import { DocStore } from '../corpus.js';
import { IndexMismatchError, RetrieverInvariantError } from '../errors.js';

// The passage source is declared in @sr1/spec (with `SearchHit`, which carries it).
export type { PassageSource } from '@sr1/spec';

/** One ingested document: its file, title, format and whole text (blocks separated by blank lines). */
export interface IngestedDocument {
  path: string;
  /** `line:N` for a JSONL record, `''` otherwise. */
  part: string;
  title: string;
  format: string;
  text: string;
}

export const INGEST_FILES = {
  sources: 'ingest/sources.jsonl',
  sourceOffsets: 'ingest/sources.offsets',
  documents: 'ingest/documents.jsonl',
  documentOffsets: 'ingest/documents.offsets',
  passageDocuments: 'ingest/passage-documents.u32',
} as const;

/** JSON lines and their float64 byte offsets (n + 1 entries), the layout `DocStore` reads. */
export function encodeLines(lines: readonly string[]): { data: Buffer; offsets: Buffer } {
  const parts = lines.map((line) => Buffer.from(`${line}\n`, 'utf8'));
  const offsets = new Float64Array(lines.length + 1);
  let position = 0;
  parts.forEach((part, index) => {
    offsets[index] = position;
    position += part.length;
  });
  offsets[lines.length] = position;
  return { data: Buffer.concat(parts), offsets: Buffer.from(offsets.buffer) };
}

/** Random access to the sources and documents of an ingested index folder. */
export class IngestedSources {
  private readonly sources: DocStore;
  private readonly documents: DocStore;
  private readonly passageDocuments: Uint32Array;

  private constructor(sources: DocStore, documents: DocStore, passageDocuments: Uint32Array) {
    this.sources = sources;
    this.documents = documents;
    this.passageDocuments = passageDocuments;
  }

  /** Number of passages. */
  get size(): number {
    return this.sources.size;
  }

  /** Opens the sources of the index folder `dir`, or returns undefined when it was not ingested. */
  static open(dir: string, passages: number): IngestedSources | undefined {
    if (!existsSync(join(dir, INGEST_FILES.sources))) return undefined;
    let sources: DocStore | undefined;
    try {
      sources = DocStore.open(join(dir, INGEST_FILES.sources), join(dir, INGEST_FILES.sourceOffsets), false);
      const documents = DocStore.open(
        join(dir, INGEST_FILES.documents),
        join(dir, INGEST_FILES.documentOffsets),
        false,
      );
      const raw = readFileSync(join(dir, INGEST_FILES.passageDocuments));
      const passageDocuments = new Uint32Array(raw.length / 4);
      new Uint8Array(passageDocuments.buffer).set(raw);
      if (sources.size !== passages || passageDocuments.length !== passages) {
        throw new RetrieverInvariantError(
          `${sources.size} sources and ${passageDocuments.length} passage→document entries for ${passages} passages`,
        );
      }
      for (const document of passageDocuments) {
        if (document >= documents.size)
          throw new RetrieverInvariantError(
            `passage→document entry ${document} ≥ ${documents.size} documents`,
          );
      }
      return new IngestedSources(sources, documents, passageDocuments);
    } catch (error) {
      sources?.close();
      throw new IndexMismatchError(dir, `ingest sources unreadable: ${(error as Error).message}`);
    }
  }

  /** The source of passage `index` as its stored JSON text (spliced into server responses). */
  rawSource(index: number): string {
    return this.sources.rawJson(index);
  }

  /** The source of passage `index`. */
  source(index: number): PassageSource {
    return JSON.parse(this.rawSource(index)) as PassageSource;
  }

  /** The whole document passage `index` was cut from. */
  documentOf(index: number): IngestedDocument {
    return this.document(this.passageDocuments[index]!);
  }

  /** Document number `index` (ingest order). */
  document(index: number): IngestedDocument {
    return JSON.parse(this.documents.rawJson(index)) as IngestedDocument;
  }

  /** Document number of passage `index`. */
  documentIndexOf(index: number): number {
    return this.passageDocuments[index]!;
  }

  /** Number of documents. */
  get documentCount(): number {
    return this.documents.size;
  }

  close(): void {
    this.sources.close();
    this.documents.close();
  }
}
