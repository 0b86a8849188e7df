// `sr1-retriever ingest`: the command-line face of `ingestFolder` — flags, a line per file on a
// terminal, and the end-of-run summary (files, passages, what was skipped and why).

import { type CliIo, CliUsageError, type CommandSpec, parseCommand, type SubCommand } from '@sr1/core';
import type { EncoderSpec, IndexKind } from '../index-folder.js';
import { CHUNK_DEFAULTS } from './chunk.js';
import { type IngestSummary, ingestFolder } from './ingest.js';

const INGEST_SPEC = {
  name: 'sr1-retriever ingest',
  summary:
    'index a folder of your documents (Markdown, HTML, PDF, text, JSONL); re-ingest parses only changes',
  flags: {
    docs: {
      type: 'string',
      description: 'folder of documents, read recursively',
      placeholder: 'DIR',
      required: true,
    },
    out: {
      type: 'string',
      description: 'index folder to write (or update)',
      placeholder: 'DIR',
      required: true,
    },
    kind: {
      type: 'choice',
      choices: ['bm25', 'dense', 'hybrid'],
      description: 'index kind',
      default: 'bm25',
    },
    encoder: {
      type: 'string',
      description: 'dense encoder: hashing, or an ONNX model folder',
      placeholder: 'hashing|MODEL_DIR',
      default: 'hashing',
    },
    words: {
      type: 'integer',
      description: 'most words per passage',
      default: CHUNK_DEFAULTS.targetWords,
      min: 10,
      max: 2000,
    },
    overlap: {
      type: 'integer',
      description: 'words repeated between passages of a section',
      default: CHUNK_DEFAULTS.overlapWords,
      min: 0,
    },
    force: { type: 'boolean', description: 'replace an --out folder that is not an index' },
    quiet: { type: 'boolean', description: 'print only the summary' },
  },
  notes:
    'Each passage keeps its source (file, title, heading path, character offsets), served next to the\n' +
    'document by /retrieve and by `sr1-retriever mcp`. Files that cannot be read are skipped and listed.',
} satisfies CommandSpec;

/** The end-of-run summary, as the CLI prints it. */
export function formatIngestSummary(summary: IngestSummary, out: string): string {
  const lines = [
    `ingested ${summary.files} files → ${summary.documents} documents, ${summary.passages} passages (${summary.manifest.kind}) → ${out}`,
    `  parsed ${summary.parsed.length}, unchanged ${summary.unchanged.length}, removed ${summary.removed.length}, skipped ${summary.skipped.length}`,
  ];
  if (summary.vectors !== null) {
    lines.push(
      `  vectors: ${summary.vectors.reused} reused from the previous index, ${summary.vectors.encoded} encoded`,
    );
  }
  for (const path of summary.removed) lines.push(`  removed: ${path}`);
  for (const skip of summary.skipped) lines.push(`  skipped: ${skip.path}: ${skip.reason}`);
  return `${lines.join('\n')}\n`;
}

export async function runIngestCommand(args: string[], io: CliIo): Promise<void> {
  const { values } = parseCommand(INGEST_SPEC, args);
  if (values.overlap >= values.words) {
    throw new CliUsageError(
      '--overlap',
      `must be smaller than --words (${values.words}), got ${values.overlap}`,
    );
  }
  const encoder: EncoderSpec =
    values.encoder === 'hashing' ? { type: 'hashing' } : { type: 'onnx', modelDir: values.encoder };
  const summary = await ingestFolder({
    docs: values.docs,
    out: values.out,
    kind: values.kind as IndexKind,
    encoder,
    chunking: { targetWords: values.words, overlapWords: values.overlap },
    force: values.force,
    onFile: values.quiet
      ? undefined
      : (event) => {
          if (event.status !== 'skipped') io.stdout(`  ${event.status.padEnd(9)} ${event.path}\n`);
        },
  });
  io.stdout(formatIngestSummary(summary, values.out));
}

/** The `ingest` subcommand, for `sr1-retriever`'s program. */
export const ingestCommand: SubCommand = {
  summary: INGEST_SPEC.summary,
  run: runIngestCommand,
};
