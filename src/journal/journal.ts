// Over 400 lines on purpose: appending, fsync batching, rotation, trimming and read-back share the
// segment state and its invariants (seq order, byte accounting against the cap); the frame format,
// the codec and start-up repair are in files of their own.
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  unlinkSync,
  writeSync,
  writevSync,
} from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../core/clock.js';
import { syncDirectory } from '../core/durable-fs.js';
import { VigilError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { IngestBatch } from '../core/types.js';
import {
  RAW_MESSAGE,
  decodeBatch,
  decodeMessage,
  encodeBatch,
  encodeMessageHead,
  messageHeadBytes,
  type JournalSource,
  type MessageDecode,
} from './journal-codec.js';
import { FILE_MAGIC, HEADER_V2, LAYOUT_V2, scanSegment, sealHeader, writeHeader, type SegmentLayout } from './journal-frame.js';
import { repairSegment } from './journal-repair.js';

export interface JournalOptions {
  dir: string;
  /**
   * Disk cap: `isFull()` turns true at this size and ingest stops acknowledging. It is checked before
   * each append, so the record that reaches it may end past it (by one message at most).
   */
  maxBytes: number;
  segmentBytes: number;
  /** How often appended records are fsync'ed (power-loss protection); 0 = on every append. */
  fsyncIntervalMs: number;
  /** Decodes records holding a message as it arrived (see journal-codec.ts); without it they cannot be read back. */
  decodeMessage?: MessageDecode;
}

export interface JournalStats {
  bytes: number;
  segments: number;
  /** Records appended (or found at start-up) and not yet committed to the store. */
  depth: number;
  appended: number;
  corruptRecords: number;
  /** Damaged stretches found at start-up between (or after) valid records; their bytes are kept in quarantine/. */
  damagedRegions: number;
  bytesSkipped: number;
  /** Acknowledged records lost in damaged stretches, as far as the seqs around them tell (at least this many). */
  recordsLost: number;
  /** Messages read back whose decoding now accepts a different number of items than at arrival (the configuration changed). */
  redecodeMismatches: number;
  fsyncs: number;
}

interface Segment {
  file: string;
  layout: SegmentLayout;
  firstSeq: number;
  /** Seq of its last record; firstSeq - 1 while empty. */
  lastSeq: number;
  bytes: number;
}

/** Bytes read at a time when reading records back. */
const READ_WINDOW = 1 << 20;
const NAME = /^seg-(\d{16})\.wal$/;

/**
 * The write-ahead journal between the broker and the store. A message is acknowledged only after
 * its record is written here: `append` is one synchronous write into the page cache, which survives
 * a killed process; fsyncs are grouped on a short interval against power loss. Records are numbered;
 * `commit(seq)` says everything up to seq is in the store, and whole segments at or below it are deleted.
 */
export class Journal {
  private segments: Segment[] = [];
  private active: (Segment & { fd: number }) | null = null;
  private nextSeq = 1;
  private committedSeq = 0;
  private dirty = false;
  private fsyncTimer: TimerHandle;
  /**
   * Sequential reading position: a window of the segment file (`buf`, starting at file offset `base`),
   * the offset of record `seq` in it. Windows are read as needed, so catching up on the segment that
   * is still being appended to reads each byte once instead of the whole file again and again.
   */
  private cursor: { file: string; fd: number; buf: Buffer; base: number; offset: number; seq: number } | null = null;
  private readWindow = Buffer.alloc(0);
  /** Records appended while writes are deferred, not yet written to the active segment. */
  private pending: Buffer[] = [];
  /**
   * While true, appends are kept in memory and written together by flushPending(): the MQTT path
   * writes a whole socket read's messages with one syscall and releases their acknowledgements
   * only after it (see MqttSubscriber's acknowledgement batch).
   */
  deferWrites = false;
  readonly stats: JournalStats = {
    bytes: 0,
    segments: 0,
    depth: 0,
    appended: 0,
    corruptRecords: 0,
    damagedRegions: 0,
    bytesSkipped: 0,
    recordsLost: 0,
    redecodeMismatches: 0,
    fsyncs: 0,
  };

  private constructor(
    private readonly options: JournalOptions,
    private readonly clock: Clock,
    private readonly log: Logger,
    existing: Segment[],
  ) {
    this.segments = existing;
    const last = existing[existing.length - 1];
    this.nextSeq = last ? last.lastSeq + 1 : 1;
    this.committedSeq = existing[0] ? existing[0].firstSeq - 1 : 0;
    this.refreshStats();
    if (options.fsyncIntervalMs > 0) {
      this.fsyncTimer = clock.setInterval(() => this.groupFsync(), options.fsyncIntervalMs);
      if (typeof this.fsyncTimer === 'object') this.fsyncTimer.unref?.();
    }
  }

  /**
   * Opens the journal directory, checking existing segments. A torn tail (a write cut short by a
   * crash, never acknowledged) is cut off. Damaged bytes elsewhere cost only themselves: reading
   * resumes at the next valid record, the segment is rewritten without them, and the bytes are kept
   * in quarantine/ with the count of records they held.
   */
  static open(options: JournalOptions, clock: Clock, log: Logger): Journal {
    mkdirSync(options.dir, { recursive: true });
    const files = readdirSync(options.dir)
      .filter((f) => NAME.test(f))
      .sort();
    const existing: Segment[] = [];
    const found = { corrupt: 0, regions: 0, bytes: 0, lost: 0 };
    for (const f of files) {
      const file = path.join(options.dir, f);
      const firstSeq = Number(NAME.exec(f)![1]);
      const buf = readFileSync(file);
      const scan = scanSegment(buf);
      const kept = repairSegment(file, buf, scan, options.dir, log);
      found.corrupt += scan.damaged.length + (scan.tornTailAt !== null ? 1 : 0);
      found.regions += scan.damaged.length;
      for (const d of scan.damaged) {
        found.bytes += d.bytes;
        found.lost += d.lostRecords ?? 1;
      }
      if (scan.records.length === 0) {
        unlinkSync(file);
        continue;
      }
      existing.push({ file, layout: scan.layout, firstSeq, lastSeq: firstSeq + scan.records.length - 1, bytes: kept });
    }
    const journal = new Journal(options, clock, log, existing);
    journal.stats.corruptRecords += found.corrupt;
    journal.stats.damagedRegions += found.regions;
    journal.stats.bytesSkipped += found.bytes;
    journal.stats.recordsLost += found.lost;
    return journal;
  }

  /** Seq of the newest record appended (or found at start-up); 0 when none ever. */
  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  get committed(): number {
    return this.committedSeq;
  }

  /**
   * Reads records from `fromSeq` on, up to `maxItems` samples+events (at least one record), for the
   * writer to catch up from disk: after a restart, or when more arrived than its memory budget holds.
   * A record that fails to decode yields an empty batch.
   */
  read(fromSeq: number, maxItems: number): Array<{ seq: number; batch: IngestBatch }> {
    const out: Array<{ seq: number; batch: IngestBatch }> = [];
    this.readEach(fromSeq, maxItems, (seq, batch) => out.push({ seq, batch }));
    return out;
  }

  /**
   * As `read`, handing each record to `visit` as it is decoded, so that a large read never holds
   * thousands of decoded batches at once. Returns the seq of the last record visited (fromSeq − 1 if none).
   * Decoders must not keep the bytes they are given (the read window is reused).
   */
  readEach(fromSeq: number, maxItems: number, visit: (seq: number, batch: IngestBatch) => void): number {
    this.flushPending();
    let seq = fromSeq;
    let items = 0;
    let visited = 0;
    let last = fromSeq - 1;
    while (seq <= this.lastSeq && (visited === 0 || items < maxItems)) {
      const body = this.recordAt(seq);
      if (!body) {
        // A gap: a segment cut short at start-up (torn or corrupt tail). Go on with the next one.
        const next = this.segments.find((s) => s.firstSeq > seq);
        if (!next) break;
        seq = next.firstSeq;
        continue;
      }
      let batch: IngestBatch;
      try {
        batch = body[0] === RAW_MESSAGE ? this.decodeRaw(seq, body) : decodeBatch(body);
      } catch (err) {
        this.stats.corruptRecords++;
        this.log.error({ seq, err }, 'journal record passed its checksum but cannot be decoded; skipping it');
        batch = { samples: [], events: [] };
      }
      visit(seq, batch);
      visited++;
      last = seq;
      items += batch.samples.length + batch.events.length;
      seq++;
    }
    return last;
  }

  private decodeRaw(seq: number, body: Buffer): IngestBatch {
    const decode = this.options.decodeMessage;
    if (!decode) throw new Error('the journal holds a message record but was opened without a message decoder');
    const m = decodeMessage(body);
    const batch = decode(m.topic, m.payload, m.receivedAt);
    if (batch.samples.length + batch.events.length !== m.accepted) {
      const n = ++this.stats.redecodeMismatches;
      // After a configuration change every record may differ: logged at 1, 10, 100… with the total, not each.
      let power = 1;
      while (power < n) power *= 10;
      if (power !== n) return batch;
      this.log.warn(
        { seq, topic: m.topic, acceptedThen: m.accepted, acceptedNow: batch.samples.length + batch.events.length, mismatches: n },
        'a journalled message decodes differently than when it arrived (ingest configuration changed?); storing what it decodes to now',
      );
    }
    return batch;
  }

  private recordAt(seq: number): Buffer | null {
    const seg = this.segments.find((s) => s.firstSeq <= seq && seq <= s.lastSeq);
    if (!seg) return null;
    let c = this.cursor;
    if (!c || c.file !== seg.file || c.seq > seq) {
      this.closeCursor();
      c = this.cursor = {
        file: seg.file,
        fd: openSync(seg.file, 'r'),
        buf: Buffer.alloc(0),
        base: seg.layout.dataStart,
        offset: 0,
        seq: seg.firstSeq,
      };
    }
    const header = seg.layout.header;
    // v1 records start with their length; v2 records with their magic, then the length.
    const lengthAt = seg.layout.version === 2 ? 4 : 0;
    while (c.seq <= seq) {
      if (!this.cursorHas(c, header)) return null;
      const len = c.buf.readUInt32LE(c.offset + lengthAt);
      if (!this.cursorHas(c, header + len)) return null;
      const body = c.buf.subarray(c.offset + header, c.offset + header + len);
      c.offset += header + len;
      c.seq++;
      if (c.seq - 1 === seq) {
        if (c.seq > seg.lastSeq) this.closeCursor(); // done with this segment
        return body;
      }
    }
    return null;
  }

  /** Makes `bytes` from the cursor's offset available in its window, reading on from the file if needed. */
  private cursorHas(c: NonNullable<Journal['cursor']>, bytes: number): boolean {
    if (c.offset + bytes <= c.buf.length) return true;
    const from = c.base + c.offset;
    // One window, read into again: a record's bytes are decoded during its visit and not kept, and a
    // fresh megabyte per read would be external memory that makes V8 collect more often.
    if (this.readWindow.length < Math.max(READ_WINDOW, bytes)) this.readWindow = Buffer.allocUnsafeSlow(Math.max(READ_WINDOW, bytes));
    const n = readSync(c.fd, this.readWindow, 0, this.readWindow.length, from);
    c.buf = this.readWindow.subarray(0, n);
    c.base = from;
    c.offset = 0;
    return bytes <= n;
  }

  private closeCursor(): void {
    if (!this.cursor) return;
    closeSync(this.cursor.fd);
    this.cursor = null;
  }

  isFull(): boolean {
    return this.stats.bytes >= this.options.maxBytes;
  }

  /**
   * Makes the batch durable against a process kill and returns its seq. Synchronous by design; with
   * `deferWrites` the write happens at the next flushPending(), which the caller must await before
   * acknowledging anything. Given the message the batch was decoded from (and a decoder to read it
   * back with), the message is what is written.
   */
  append(batch: IngestBatch, source?: JournalSource): number {
    const seq = this.nextSeq;
    let parts: Buffer[];
    let length: number;
    if (source && this.options.decodeMessage) {
      // The message as it arrived: a small head and the payload as is, nothing re-encoded.
      const headBytes = messageHeadBytes(source);
      const head = Buffer.allocUnsafe(HEADER_V2 + headBytes);
      encodeMessageHead(source, batch.samples.length + batch.events.length, head, HEADER_V2);
      const p = source.payload;
      const payload = Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
      length = headBytes + payload.byteLength;
      writeHeader(head, 0, length, seq);
      sealHeader(head, 0, [head.subarray(HEADER_V2), payload]);
      parts = [head, payload];
    } else {
      const body = encodeBatch(batch);
      const header = Buffer.allocUnsafe(HEADER_V2);
      writeHeader(header, 0, body.length, seq);
      sealHeader(header, 0, [body]);
      parts = [header, body];
      length = body.length;
    }
    const seg = this.activeSegment();
    if (this.deferWrites) this.pending.push(...parts);
    else {
      this.flushPending();
      try {
        writevSync(seg.fd, parts);
      } catch (err) {
        throw new VigilError('VGL_JOURNAL_IO', `journal append failed: ${(err as Error).message}`, { cause: err });
      }
    }
    this.nextSeq++;
    seg.lastSeq = seq;
    seg.bytes += HEADER_V2 + length;
    this.stats.bytes += HEADER_V2 + length;
    this.stats.appended++;
    this.stats.depth = this.nextSeq - 1 - this.committedSeq;
    this.dirty = true;
    if (this.options.fsyncIntervalMs === 0) this.syncNow();
    if (seg.bytes >= this.options.segmentBytes) this.rollActive();
    return seq;
  }

  /** Everything with seq ≤ `seq` is in the store: drop segments that hold nothing newer. */
  commit(seq: number): void {
    if (seq <= this.committedSeq) return;
    this.committedSeq = seq;
    this.trim();
  }

  private trim(): void {
    // At the cap with everything committed, the active segment itself must go, or nothing frees space.
    if (this.active && this.active.lastSeq <= this.committedSeq && this.isFull()) this.retireActive();
    const keep: Segment[] = [];
    for (const seg of this.segments) {
      const closed = seg !== this.active;
      if (closed && seg.lastSeq <= this.committedSeq) {
        try {
          unlinkSync(seg.file);
        } catch (err) {
          this.log.warn({ file: seg.file, err }, 'could not delete committed journal segment');
          keep.push(seg);
        }
      } else keep.push(seg);
    }
    this.segments = keep;
    this.refreshStats();
  }

  private activeSegment(): Segment & { fd: number } {
    if (this.active) return this.active;
    const file = path.join(this.options.dir, `seg-${String(this.nextSeq).padStart(16, '0')}.wal`);
    const fd = openSync(file, 'a');
    try {
      writeSync(fd, FILE_MAGIC);
    } catch (err) {
      closeSync(fd);
      throw new VigilError('VGL_JOURNAL_IO', `journal segment ${file} cannot be started: ${(err as Error).message}`, { cause: err });
    }
    // The new directory entry must itself survive power loss.
    syncDirectory(this.options.dir);
    this.active = { file, layout: LAYOUT_V2, firstSeq: this.nextSeq, lastSeq: this.nextSeq - 1, bytes: FILE_MAGIC.length, fd };
    this.segments.push(this.active);
    this.refreshStats();
    return this.active;
  }

  /** Writes the deferred records, in order, with as few syscalls as the kernel allows. */
  flushPending(): void {
    if (this.pending.length === 0) return;
    const seg = this.active;
    const buffers = this.pending;
    this.pending = [];
    if (!seg) throw new VigilError('VGL_JOURNAL_IO', 'journal append failed: no active segment for deferred records');
    try {
      // Linux takes at most 1024 buffers per writev.
      for (let i = 0; i < buffers.length; i += 1024) writevSync(seg.fd, buffers.slice(i, i + 1024));
    } catch (err) {
      throw new VigilError('VGL_JOURNAL_IO', `journal append failed: ${(err as Error).message}`, { cause: err });
    }
  }

  private rollActive(): void {
    this.retireActive();
    this.trim();
  }

  /** Closes the active segment; the next append opens a new one. */
  private retireActive(): void {
    const seg = this.active;
    if (!seg) return;
    this.syncNow();
    closeSync(seg.fd);
    this.active = null;
    const { fd: _fd, ...closed } = seg;
    this.segments[this.segments.indexOf(seg)] = closed;
  }

  private syncNow(): void {
    this.flushPending();
    if (!this.active || !this.dirty) return;
    fdatasyncSync(this.active.fd);
    this.dirty = false;
    this.stats.fsyncs++;
  }

  private groupFsync(): void {
    // Deferred records belong to messages not yet acknowledged; their batch flushes them itself.
    if (!this.active || !this.dirty || this.pending.length > 0) return;
    this.dirty = false;
    fdatasync(this.active.fd, (err) => {
      if (err) {
        this.dirty = true;
        this.log.warn({ err }, 'journal fsync failed');
      } else this.stats.fsyncs++;
    });
  }

  private refreshStats(): void {
    this.stats.bytes = this.segments.reduce((sum, s) => sum + s.bytes, 0);
    this.stats.segments = this.segments.length;
    this.stats.depth = this.nextSeq - 1 - this.committedSeq;
  }

  /** Syncs and closes the active segment. Uncommitted records stay on disk for the next start. */
  close(): void {
    if (this.fsyncTimer !== undefined) this.clock.clearInterval(this.fsyncTimer);
    this.closeCursor();
    this.retireActive();
    // A clean stop with everything committed leaves an empty journal.
    for (const seg of [...this.segments]) {
      if (seg.lastSeq <= this.committedSeq) {
        unlinkSync(seg.file);
        this.segments.splice(this.segments.indexOf(seg), 1);
      }
    }
    this.refreshStats();
  }
}
