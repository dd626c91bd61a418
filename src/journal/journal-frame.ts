import { crc32 } from 'node:zlib';

/**
 * How records lie in a journal segment. A segment starts with FILE_MAGIC; each record is
 *   u32 RECORD_MAGIC, u32 body length, u32 crc32 (of seq and body), f64 seq, body
 * so that after damaged bytes the next record can be found again (its magic, a plausible length and
 * a matching checksum), and the seq of the records on either side says exactly how many were lost.
 * Segments of earlier versions have no file magic and records of u32 length, u32 crc32, body; they
 * are still read.
 */
export const FILE_MAGIC = Buffer.from('VGLJRNL2', 'latin1');
export const RECORD_MAGIC = 0x4a4c4756; // "VGLJ" little-endian
const MAGIC_BYTES = Buffer.from([0x56, 0x47, 0x4c, 0x4a]);
export const HEADER_V2 = 20;
export const HEADER_V1 = 8;

export interface SegmentLayout {
  version: 1 | 2;
  /** Where the first record starts. */
  dataStart: number;
  header: number;
}

export const LAYOUT_V1: SegmentLayout = { version: 1, dataStart: 0, header: HEADER_V1 };
export const LAYOUT_V2: SegmentLayout = { version: 2, dataStart: FILE_MAGIC.length, header: HEADER_V2 };

/** Writes a v2 record header for a body of `length` bytes whose crc32 over seq+body is computed by the caller into `at`. */
export function writeHeader(into: Buffer, at: number, length: number, seq: number): void {
  into.writeUInt32LE(RECORD_MAGIC, at);
  into.writeUInt32LE(length, at + 4);
  into.writeDoubleLE(seq, at + 12);
}

/** Seals a header written by writeHeader: the checksum of the seq (in the header) and the body parts. */
export function sealHeader(into: Buffer, at: number, body: readonly Uint8Array[]): void {
  let crc = crc32(into.subarray(at + 12, at + HEADER_V2));
  for (const part of body) crc = crc32(part, crc);
  into.writeUInt32LE(crc, at + 8);
}

export interface ScannedRecord {
  /** Offset of the record (its header) in the file, and its total size. */
  at: number;
  size: number;
  seq: number | null;
}

export interface DamagedRegion {
  at: number;
  bytes: number;
  /** Records known lost in it (from the seqs around it); null when it runs to the end and nothing tells. */
  lostRecords: number | null;
}

export interface SegmentScan {
  layout: SegmentLayout;
  records: ScannedRecord[];
  /** Bytes in the middle (or at the end) that are not valid records, in order. */
  damaged: DamagedRegion[];
  /** An incomplete last record (the process died while writing it): never acknowledged, cut off. */
  tornTailAt: number | null;
}

function validV2(buf: Buffer, at: number): number {
  if (at + HEADER_V2 > buf.length || buf.readUInt32LE(at) !== RECORD_MAGIC) return -1;
  const len = buf.readUInt32LE(at + 4);
  if (at + HEADER_V2 + len > buf.length) return -1;
  const crc = crc32(buf.subarray(at + HEADER_V2, at + HEADER_V2 + len), crc32(buf.subarray(at + 12, at + HEADER_V2)));
  return crc === buf.readUInt32LE(at + 8) ? HEADER_V2 + len : -1;
}

/** What a write cut short leaves at the end: the first bytes of one record, right as far as they go. */
function tornV2(buf: Buffer, at: number): boolean {
  const rest = buf.length - at;
  if (rest < 4) return buf.subarray(at).equals(MAGIC_BYTES.subarray(0, rest));
  if (buf.readUInt32LE(at) !== RECORD_MAGIC) return false;
  return rest < HEADER_V2 || at + HEADER_V2 + buf.readUInt32LE(at + 4) > buf.length;
}

/**
 * Every valid record of a segment, resynchronising past damaged bytes to the next valid record. A
 * damaged region is only ever what lies between two valid records (or after the last one); a record
 * is never taken unless its magic, length and checksum all agree.
 */
export function scanSegment(buf: Buffer): SegmentScan {
  if (buf.length >= FILE_MAGIC.length && buf.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) return scanV2(buf);
  return scanV1(buf);
}

function scanV2(buf: Buffer): SegmentScan {
  const records: ScannedRecord[] = [];
  const damaged: DamagedRegion[] = [];
  let at = FILE_MAGIC.length;
  let tornTailAt: number | null = null;
  while (at < buf.length) {
    const size = validV2(buf, at);
    if (size > 0) {
      records.push({ at, size, seq: buf.readDoubleLE(at + 12) });
      at += size;
      continue;
    }
    // The next place where a valid record starts, if any.
    let next = -1;
    for (let p = buf.indexOf(MAGIC_BYTES, at + 1); p !== -1; p = buf.indexOf(MAGIC_BYTES, p + 1)) {
      if (validV2(buf, p) > 0) {
        next = p;
        break;
      }
    }
    if (next === -1) {
      // Nothing valid after: a write cut short (the common case after a crash), or damage to the end.
      if (tornV2(buf, at)) tornTailAt = at;
      else damaged.push({ at, bytes: buf.length - at, lostRecords: null });
      break;
    }
    const before = records[records.length - 1]?.seq;
    const after = buf.readDoubleLE(next + 12);
    damaged.push({ at, bytes: next - at, lostRecords: before !== undefined && before !== null ? Math.max(1, after - before - 1) : null });
    at = next;
  }
  return { layout: LAYOUT_V2, records, damaged, tornTailAt };
}

/** Segments of earlier versions: no magic to find the next record by, so the first bad record ends the segment. */
function scanV1(buf: Buffer): SegmentScan {
  const records: ScannedRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    if (at + HEADER_V1 > buf.length) return { layout: LAYOUT_V1, records, damaged: [], tornTailAt: at };
    const len = buf.readUInt32LE(at);
    const crc = buf.readUInt32LE(at + 4);
    if (at + HEADER_V1 + len > buf.length) return { layout: LAYOUT_V1, records, damaged: [], tornTailAt: at };
    if (crc32(buf.subarray(at + HEADER_V1, at + HEADER_V1 + len)) !== crc) {
      return { layout: LAYOUT_V1, records, damaged: [{ at, bytes: buf.length - at, lostRecords: null }], tornTailAt: null };
    }
    records.push({ at, size: HEADER_V1 + len, seq: null });
    at += HEADER_V1 + len;
  }
  return { layout: LAYOUT_V1, records, damaged: [], tornTailAt: null };
}
