import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { IngestFileError } from './errors.js';
import { formatOf, parseDocument } from './parse.js';

const DOCS = fileURLToPath(new URL('./__fixtures__/docs/', import.meta.url));
const read = (path: string) => new Uint8Array(readFileSync(`${DOCS}${path}`));

describe('parseDocument', () => {
  it('Markdown: headings and paragraphs through mdast, markup dropped, list items one block each', async () => {
    const [document] = await parseDocument('onboarding.md', read('onboarding.md'), 'markdown');
    expect(document!.title).toBe('Harbor Lab onboarding');
    const headings = document!.blocks.filter((block) => block.type === 'heading').map((block) => block.text);
    expect(headings).toEqual([
      'Harbor Lab onboarding',
      'Accounts',
      'On-call rotation',
      'Handover',
      'Getting help',
    ]);
    const texts = document!.blocks.filter((block) => block.type === 'text').map((block) => block.text);
    expect(texts).toContain(
      'Your laptop arrives with a temporary password that expires after 48 hours. Change it at the account portal before the first stand-up. Badge access to the cold room is granted by the facilities desk on the ground floor, usually within one working day.',
    );
    expect(texts).toContain('Hardware problems: the facilities desk, extension 4410.');
  });

  it('HTML: Readability keeps the article and drops navigation, sidebar and footer', async () => {
    const [document] = await parseDocument('policies/backups.html', read('policies/backups.html'), 'html');
    expect(document!.title).toBe('Backup policy | Harbor Lab intranet');
    const all = document!.blocks.map((block) => block.text).join('\n');
    expect(all).toContain('Nightly backups are kept for 35 days');
    expect(all).toContain('Restoring a file');
    for (const boilerplate of ['Log in', 'Related pages', 'Cookie settings', 'Retention']) {
      expect(all).not.toContain(boilerplate);
    }
    expect(document!.blocks.filter((block) => block.type === 'heading').map((block) => block.text)).toEqual([
      'Restoring a file',
      'Laptops',
    ]);
  });

  it('PDF: text per page through pdf.js, title from the PDF metadata', async () => {
    const [document] = await parseDocument('safety-manual.pdf', read('safety-manual.pdf'), 'pdf');
    expect(document!.title).toBe('Harbor Lab safety manual');
    expect(document!.pages).toEqual([1, 2]);
    expect(document!.blocks[0]!.text).toContain('The assembly point is the car park behind building C.');
    expect(document!.blocks[1]!.text).toContain('Dr. Imani Okafor, on extension 4477');
  });

  it('plain text: paragraphs by blank lines, the file name as the title', async () => {
    const [document] = await parseDocument('faq.txt', read('faq.txt'), 'text');
    expect(document!.title).toBe('faq');
    expect(document!.blocks).toHaveLength(4);
    expect(document!.blocks[1]!.text).toMatch(/^Where is the cold room\? .* two minutes\.$/);
  });

  it('JSONL: one document per record, Search-R1 contents or title/text', async () => {
    const documents = await parseDocument('glossary.jsonl', read('glossary.jsonl'), 'jsonl');
    expect(documents.map((document) => [document.part, document.title])).toEqual([
      ['line:1', 'Pager'],
      ['line:2', 'Vault'],
      ['line:3', 'Stand-up'],
    ]);
  });

  it('names the file and line of what it cannot read', async () => {
    const bad = new TextEncoder().encode('{"text": "fine"}\n{"text": \n');
    await expect(parseDocument('bad.jsonl', bad, 'jsonl')).rejects.toThrow(/bad\.jsonl:2: not valid JSON/);
    const truncated = read('safety-manual.pdf').slice(0, 2000);
    const error = await parseDocument('cut.pdf', truncated, 'pdf').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IngestFileError);
    expect((error as Error).message).toMatch(/^cut\.pdf: not a readable PDF/);
    await expect(
      parseDocument('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]), 'text'),
    ).rejects.toThrow(/latin1\.txt: not valid UTF-8/);
  });

  it('knows formats by extension', () => {
    expect(['a.md', 'b.HTML', 'c.pdf', 'd.txt', 'e.jsonl', 'f.png'].map(formatOf)).toEqual([
      'markdown',
      'html',
      'pdf',
      'text',
      'jsonl',
      undefined,
    ]);
  });
});
