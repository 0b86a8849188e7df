import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadIndex, readManifest } from '../index-folder.js';
import { InProcessRetriever } from '../retriever.js';
import { writeTinyModelFolder } from '../tiny-model.js';
import { ingestFolder } from './ingest.js';

const FIXTURES = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'sr1-ingest-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A fresh copy of the fixture folder, plus four files that cannot be ingested. */
function docsFolder(name: string): string {
  const docs = join(work, name);
  cpSync(FIXTURES, docs, { recursive: true });
  writeFileSync(join(docs, 'logo.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(
    join(docs, 'broken.pdf'),
    readFileSync(join(FIXTURES, 'safety-manual.pdf')).subarray(0, 1500),
  );
  writeFileSync(join(docs, 'notes.jsonl'), '{"text": "fine"}\n{"text": \n');
  symlinkSync(join(docs, 'moved-away.md'), join(docs, 'dangling.md'));
  return docs;
}

async function ids(out: string): Promise<string[]> {
  const index = await loadIndex(out);
  try {
    return [...index.docs.entries()].map((passage) => passage.id);
  } finally {
    await index.close();
  }
}

describe('ingestFolder', () => {
  it('indexes Markdown, HTML, PDF, text and JSONL, and skips what it cannot read, saying why', async () => {
    const docs = docsFolder('docs-a');
    const out = join(work, 'index-a');
    const summary = await ingestFolder({ docs, out, kind: 'bm25' });
    expect(summary.files).toBe(5);
    expect(summary.parsed).toEqual([
      'faq.txt',
      'glossary.jsonl',
      'onboarding.md',
      'policies/backups.html',
      'safety-manual.pdf',
    ]);
    expect(summary.skipped).toEqual([
      { path: 'broken.pdf', reason: expect.stringMatching(/^not a readable PDF/) },
      { path: 'dangling.md', reason: 'unreadable: no such file (a broken link?)' },
      { path: 'logo.png', reason: 'unsupported format (.png); supported: .md .html .pdf .txt .jsonl' },
      { path: 'notes.jsonl', reason: expect.stringMatching(/^line 2: not valid JSON/) },
    ]);
    expect(summary.documents).toBe(7); // 4 single-document files + 3 glossary records
    const manifest = readManifest(out);
    expect(manifest.corpus.passages).toBe(summary.passages);
    expect(manifest.ingest!.files.map((file) => [file.path, file.sha256.length])).toEqual(
      summary.parsed.map((path) => [path, 64]),
    );
    expect(manifest.ingest!.skipped).toHaveLength(4);
  });

  it('an ingested index answers with sources whose offsets point into the opened document', async () => {
    const retriever = await InProcessRetriever.open(join(work, 'index-a'));
    try {
      const [hits] = await retriever.search(['how long are nightly backups kept'], 3);
      const top = hits![0]!;
      expect(top.source).toMatchObject({
        path: 'policies/backups.html',
        title: 'Backup policy | Harbor Lab intranet',
      });
      expect(top.text).toContain('Nightly backups are kept for 35 days');
      const opened = retriever.openDocument(top.id);
      expect(opened.whole).toBe(true);
      expect(opened.text.slice(top.source!.start, top.source!.end)).toBe(top.text);
      expect(opened.text).toContain('## Restoring a file');

      const [pdf] = await retriever.search(['who is the safety officer for chemical spills'], 1);
      expect(pdf![0]!.source).toMatchObject({ path: 'safety-manual.pdf', page: 2 });
      const [md] = await retriever.search(['handover note acknowledged thumbs-up'], 1);
      expect(md![0]!.source!.headingPath).toEqual(['Harbor Lab onboarding', 'On-call rotation', 'Handover']);
      expect(md![0]!.title).toBe('Harbor Lab onboarding › On-call rotation › Handover');
      const [jsonl] = await retriever.search(['stand-up meeting kitchen'], 1);
      expect(jsonl![0]!.source).toMatchObject({ path: 'glossary.jsonl', line: 3, title: 'Stand-up' });
    } finally {
      await retriever.close();
    }
  });

  it('passage ids are stable: the same folder ingested again gives the same ids', async () => {
    const out = join(work, 'index-a-again');
    await ingestFolder({ docs: join(work, 'docs-a'), out, kind: 'bm25' });
    expect(await ids(out)).toEqual(await ids(join(work, 'index-a')));
    expect((await ids(out)).slice(0, 2)).toEqual([
      expect.stringMatching(/^faq\.txt#0-[0-9a-f]{8}$/),
      expect.stringMatching(/^glossary\.jsonl:1#0-[0-9a-f]{8}$/), // path, JSONL line, position, content hash
    ]);
  });

  it('re-ingest parses only new and changed files, drops deleted ones and keeps unchanged passages', async () => {
    const docs = docsFolder('docs-b');
    const out = join(work, 'index-b');
    await ingestFolder({ docs, out, kind: 'hybrid', encoder: { type: 'hashing', dimension: 64 } });
    const before = await ids(out);

    writeFileSync(join(docs, 'faq.txt'), 'Harbor Lab FAQ\n\nThe cold room moved to room C7 in March.\n');
    rmSync(join(docs, 'glossary.jsonl'));
    writeFileSync(
      join(docs, 'visitors.md'),
      '# Visitors\n\nVisitors park in bay 9 and collect a badge at reception.\n',
    );
    const events: string[] = [];
    const summary = await ingestFolder({
      docs,
      out,
      kind: 'hybrid',
      encoder: { type: 'hashing', dimension: 64 },
      onFile: (event) => events.push(`${event.status} ${event.path}`),
    });
    expect(summary.parsed).toEqual(['faq.txt', 'visitors.md']);
    expect(summary.unchanged).toEqual(['onboarding.md', 'policies/backups.html', 'safety-manual.pdf']);
    expect(summary.removed).toEqual(['glossary.jsonl']);
    expect(events).toContain('unchanged safety-manual.pdf');

    const after = await ids(out);
    const carried = (list: string[]) => list.filter((id) => /^(onboarding|policies|safety)/.test(id));
    expect(carried(after)).toEqual(carried(before));
    expect(after.some((id) => id.startsWith('glossary.jsonl'))).toBe(false);
    expect(readManifest(out).ingest!.files.map((file) => file.path)).toEqual([
      'faq.txt',
      'onboarding.md',
      'policies/backups.html',
      'safety-manual.pdf',
      'visitors.md',
    ]);

    const retriever = await InProcessRetriever.open(out);
    try {
      const [moved, visitors, vault] = await retriever.search(
        ['where is the cold room now', 'where do visitors park', 'vault off-site backup store Leeds'],
        1,
      );
      expect(moved![0]!.text).toContain('room C7');
      expect(visitors![0]!.source!.path).toBe('visitors.md');
      expect(vault![0]!.source!.path).not.toBe('glossary.jsonl');
      // the carried-over PDF passages still open to their whole document
      const [pdf] = await retriever.search(['liquid nitrogen dewar lift'], 1);
      const opened = retriever.openDocument(pdf![0]!.id);
      expect(opened.text.slice(pdf![0]!.source!.start, pdf![0]!.source!.end)).toBe(pdf![0]!.text);
    } finally {
      await retriever.close();
    }
  });

  it('a dense re-ingest encodes only new text (ONNX encoder); the vectors equal a fresh build', async () => {
    const model = join(work, 'tiny-e5');
    const texts = [
      readFileSync(join(FIXTURES, 'onboarding.md'), 'utf8'),
      readFileSync(join(FIXTURES, 'faq.txt'), 'utf8'),
    ];
    writeTinyModelFolder(model, { texts, hidden: 16, seed: 3 });
    const docs = docsFolder('docs-c');
    const options = { docs, kind: 'dense' as const, encoder: { type: 'onnx' as const, modelDir: model } };
    const first = await ingestFolder({ ...options, out: join(work, 'index-c') });
    expect(first.vectors).toEqual({ reused: 0, encoded: first.passages });
    writeFileSync(
      join(docs, 'visitors.md'),
      '# Visitors\n\nVisitors park in bay 9 and collect a badge at reception.\n',
    );
    rmSync(join(docs, 'faq.txt'));
    const faqPassages = first.manifest.ingest!.files.find((file) => file.path === 'faq.txt')!.passages;
    const second = await ingestFolder({ ...options, out: join(work, 'index-c') });
    expect(second.vectors).toEqual({ reused: first.passages - faqPassages, encoded: 1 });
    const fresh = await ingestFolder({ ...options, out: join(work, 'index-c-fresh') });
    expect(fresh.vectors).toEqual({ reused: 0, encoded: second.passages });
    expect(readFileSync(join(work, 'index-c', 'dense', 'vectors.f32'))).toEqual(
      readFileSync(join(work, 'index-c-fresh', 'dense', 'vectors.f32')),
    );
    // another encoder: nothing is reused
    const hashing = await ingestFolder({ docs, out: join(work, 'index-c'), kind: 'dense' });
    expect(hashing.vectors).toEqual({ reused: 0, encoded: second.passages });
  });

  it('re-chunks everything when the chunking changes', async () => {
    const docs = join(work, 'docs-b');
    const out = join(work, 'index-b');
    const summary = await ingestFolder({
      docs,
      out,
      kind: 'bm25',
      chunking: { targetWords: 40, overlapWords: 5 },
    });
    expect(summary.unchanged).toEqual([]);
    expect(summary.parsed).toHaveLength(5);
  });

  it('refuses a missing folder, an --out inside it, and a folder with nothing to index', async () => {
    await expect(
      ingestFolder({ docs: join(work, 'nope'), out: join(work, 'x'), kind: 'bm25' }),
    ).rejects.toThrow(/nope does not exist/);
    await expect(
      ingestFolder({ docs: join(work, 'docs-a'), out: join(work, 'docs-a', 'idx'), kind: 'bm25' }),
    ).rejects.toThrow(/inside the documents folder/);
    const empty = join(work, 'only-images');
    cpSync(join(work, 'docs-a', 'logo.png'), join(empty, 'logo.png'));
    await expect(ingestFolder({ docs: empty, out: join(work, 'y'), kind: 'bm25' })).rejects.toThrow(
      /no passages to index: 1 files found, 1 skipped \(logo\.png: unsupported format/,
    );
  });
});
