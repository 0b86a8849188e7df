// Validation of an hnswlib index file (`dense/hnsw.bin`) before hnswlib reads it: hnswlib trusts
// its header and link lists, so a damaged file can make it allocate wildly or crash the process
// (a bad first 8 bytes was a segfault). Layout, from hnswlib's HierarchicalNSW::saveIndex:
// a 96-byte header, then `count` level-0 records of `sizeDataPerElement` bytes
// ([u32 link count][u32 × maxM0 links][f32 × dimension][u64 label]), then per element
// [u32 bytes][upper-level link lists of (u32 count, u32 × maxM) each].

import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { IndexCorruptError, RetrieverInvariantError } from './errors.js';

/** What the manifest says the file must hold. */
export interface HnswExpectation {
  dimension: number;
  /** Number of vectors; when given the header must agree. */
  count?: number;
  /** Graph degree M; when given the header must agree. */
  m?: number;
}

const HEADER_BYTES = 96;
const MAX_LEVEL = 64; // hnswlib's levels grow as ln(n)/ln(M): 64 is beyond any real index

/** Sequential little-endian reads over a file through one window buffer. */
class FileWindow {
  private readonly fd: number;
  private readonly buffer = Buffer.allocUnsafe(8 << 20);
  private start = 0;
  private length = 0;
  constructor(fd: number) {
    this.fd = fd;
  }
  private ensure(position: number, bytes: number): number {
    if (position < this.start || position + bytes > this.start + this.length) {
      this.start = position;
      this.length = readSync(this.fd, this.buffer, 0, this.buffer.length, position);
      if (this.length < bytes) return -1;
    }
    return position - this.start;
  }
  u32(position: number): number {
    const at = this.ensure(position, 4);
    if (at < 0) throw new RetrieverInvariantError(`read past the end at byte ${position}`);
    return this.buffer.readUInt32LE(at);
  }
  u64(position: number): number {
    const at = this.ensure(position, 8);
    if (at < 0) throw new RetrieverInvariantError(`read past the end at byte ${position}`);
    return Number(this.buffer.readBigUInt64LE(at));
  }
}

/** Throws `IndexCorruptError` naming `file` unless it is a well-formed hnswlib index as expected. */
export function validateHnswFile(file: string, expected: HnswExpectation): void {
  const fail = (reason: string): never => {
    throw new IndexCorruptError(dirname(dirname(file)), file, reason);
  };
  let size: number;
  let fd: number;
  try {
    size = statSync(file).size;
    fd = openSync(file, 'r');
  } catch (error) {
    throw new IndexCorruptError(dirname(dirname(file)), file, `unreadable (${(error as Error).message})`);
  }
  try {
    if (size < HEADER_BYTES) fail(`${size} bytes, shorter than the ${HEADER_BYTES}-byte hnswlib header`);
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    readSync(fd, header, 0, HEADER_BYTES, 0);
    const u64 = (at: number) => Number(header.readBigUInt64LE(at));
    const offsetLevel0 = u64(0);
    const maxElements = u64(8);
    const count = u64(16);
    const sizeDataPerElement = u64(24);
    const labelOffset = u64(32);
    const offsetData = u64(40);
    const maxLevel = header.readInt32LE(48);
    const enterPoint = header.readUInt32LE(52);
    const maxM = u64(56);
    const maxM0 = u64(64);
    const m = u64(72);
    const mult = header.readDoubleLE(80);
    if (offsetLevel0 !== 0) fail(`bad header: offsetLevel0 ${offsetLevel0}, expected 0`);
    if (expected.count !== undefined && count !== expected.count)
      fail(`header holds ${count} vectors, the manifest says ${expected.count}`);
    if (maxElements < count || maxElements > Math.max(count, 1))
      fail(`bad header: capacity ${maxElements} for ${count} vectors`);
    if (m < 2 || m > 4096 || (expected.m !== undefined && m !== expected.m))
      fail(`bad header: M ${m}${expected.m !== undefined ? `, the manifest says ${expected.m}` : ''}`);
    if (maxM !== m || maxM0 !== 2 * m) fail(`bad header: maxM ${maxM} / maxM0 ${maxM0} for M ${m}`);
    const linksLevel0 = maxM0 * 4 + 4;
    const dataBytes = expected.dimension * 4;
    if (
      offsetData !== linksLevel0 ||
      labelOffset !== linksLevel0 + dataBytes ||
      sizeDataPerElement !== linksLevel0 + dataBytes + 8
    ) {
      fail(
        `bad header: record layout (${sizeDataPerElement} bytes per vector) does not fit dimension ${expected.dimension} and M ${m}`,
      );
    }
    if (maxLevel < 0 || maxLevel > MAX_LEVEL) fail(`bad header: top level ${maxLevel}`);
    if (count > 0 && enterPoint >= count) fail(`bad header: entry point ${enterPoint} of ${count} vectors`);
    if (!Number.isFinite(mult) || mult <= 0) fail(`bad header: level multiplier ${mult}`);
    const level0End = HEADER_BYTES + count * sizeDataPerElement;
    if (level0End > size) fail(`truncated: ${size} bytes, the ${count} level-0 records need ${level0End}`);

    const window = new FileWindow(fd);
    for (let element = 0; element < count; element++) {
      const base = HEADER_BYTES + element * sizeDataPerElement;
      const links = window.u32(base) & 0xffff;
      if (links > maxM0) fail(`vector ${element}: ${links} level-0 links, at most ${maxM0}`);
      for (let j = 0; j < links; j++) {
        if (window.u32(base + 4 + j * 4) >= count)
          fail(`vector ${element}: a level-0 link points outside the index`);
      }
      if (window.u64(base + labelOffset) >= count) fail(`vector ${element}: label outside [0, ${count})`);
    }
    const linksPerLevel = maxM * 4 + 4;
    let position = level0End;
    for (let element = 0; element < count; element++) {
      if (position + 4 > size) fail(`truncated: the upper-level links of vector ${element} are missing`);
      const bytes = window.u32(position);
      position += 4;
      if (bytes % linksPerLevel !== 0 || bytes / linksPerLevel > maxLevel)
        fail(`vector ${element}: upper-level link block of ${bytes} bytes`);
      if (position + bytes > size) fail(`truncated inside the upper-level links of vector ${element}`);
      for (let level = 0; level < bytes / linksPerLevel; level++) {
        const at = position + level * linksPerLevel;
        const links = window.u32(at) & 0xffff;
        if (links > maxM) fail(`vector ${element}: ${links} links at level ${level + 1}, at most ${maxM}`);
        for (let j = 0; j < links; j++) {
          if (window.u32(at + 4 + j * 4) >= count) fail(`vector ${element}: a link points outside the index`);
        }
      }
      position += bytes;
    }
    if (position !== size) fail(`${size - position} unexpected bytes after the last link list`);
  } finally {
    closeSync(fd);
  }
}
