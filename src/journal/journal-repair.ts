import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { syncDirectory } from '../core/durable-fs.js';
import type { Logger } from '../core/logger.js';
import type { SegmentScan } from './journal-frame.js';

/** Makes the segment hold exactly its valid records; returns its size. Damaged bytes go to quarantine first. */
export function repairSegment(file: string, buf: Buffer, scan: SegmentScan, dir: string, log: Logger): number {
  const last = scan.records[scan.records.length - 1];
  const validEnd = last ? last.at + last.size : scan.layout.dataStart;
  if (scan.damaged.length === 0) {
    if (scan.tornTailAt !== null) {
      log.warn(
        { file, at: scan.tornTailAt, records: scan.records.length },
        'journal segment ends in a record cut short (a crash while writing it, never acknowledged); cutting it off',
      );
      truncateSync(file, validEnd);
    }
    return validEnd;
  }
  const quarantine = path.join(dir, 'quarantine');
  mkdirSync(quarantine, { recursive: true });
  for (const d of scan.damaged) {
    const kept = path.join(quarantine, `${path.basename(file)}.${d.at}-${d.at + d.bytes}.damaged`);
    writeFileSync(kept, buf.subarray(d.at, d.at + d.bytes));
    log.error(
      { file, at: d.at, bytes: d.bytes, recordsLost: d.lostRecords ?? 'unknown (at least one)', quarantined: kept },
      d.lostRecords === null
        ? 'journal segment damaged up to its end; the damaged bytes are quarantined'
        : 'journal segment damaged; reading resumes at the next valid record and the damaged bytes are quarantined',
    );
  }
  // The segment again, of valid records only: readers walk it record by record.
  const parts = [buf.subarray(0, scan.layout.dataStart), ...scan.records.map((r) => buf.subarray(r.at, r.at + r.size))];
  const repaired = Buffer.concat(parts);
  const tmp = `${file}.repair`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, repaired);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDirectory(dir);
  return repaired.length;
}
