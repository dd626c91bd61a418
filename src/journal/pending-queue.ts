/**
 * The batch writer's queue of journal records waiting for the store, kept as columns of typed arrays
 * plus the stores' wire form in shared byte slabs. At full speed tens of thousands of records wait at
 * any moment, each for a few hundred milliseconds: as objects they would all live just long enough to
 * be copied out of V8's young generation and then marked in the old one. Columns make a record cost
 * no object at all where the store encodes (InfluxDB); stores without a wire form keep the batch.
 */
import type { IngestBatch, MachineEvent, Sample } from '../core/types.js';
import type { ByteSink } from '../core/sensor-store.js';
import { ByteSlabs } from '../core/byte-slabs.js';

/** What one queued record costs besides its bytes: seven typed-array columns and two pointers. */
export const RECORD_OVERHEAD_BYTES = 56;

export interface RecordCounts {
  samples: number;
  readings: number;
  events: number;
}

export class PendingQueue {
  private capacity = 0;
  private head = 0;
  private tail = 0;
  private seq = new Float64Array(0);
  private samples = new Uint32Array(0);
  private readings = new Uint32Array(0);
  private events = new Uint32Array(0);
  private latestTs = new Float64Array(0);
  private start = new Uint32Array(0);
  private end = new Uint32Array(0);
  private slab: Array<Buffer | null> = [];
  private batch: Array<IngestBatch | null> = [];
  readonly bytes = new ByteSlabs();
  /** Wire-form bytes of the queued records. */
  private encodedBytes = 0;

  /**
   * @param encode the store's wire form, written into `bytes`; without it the batch itself is kept.
   */
  constructor(private readonly encode: ((batch: IngestBatch, out: ByteSink) => number) | null) {}

  get length(): number {
    return this.tail - this.head;
  }

  push(seq: number, batch: IngestBatch): RecordCounts {
    // Encoded first: should the encoder throw, the queue is as it was.
    const written = this.encode ? this.encode(batch, this.bytes) : 0;
    if (this.tail === this.capacity) this.grow();
    const i = this.tail++;
    let readings = 0;
    let latest = -Infinity;
    for (const s of batch.samples) {
      for (const _ in s.values) readings++;
      if (s.ts > latest) latest = s.ts;
    }
    this.seq[i] = seq;
    this.samples[i] = batch.samples.length;
    this.readings[i] = readings;
    this.events[i] = batch.events.length;
    this.latestTs[i] = latest;
    if (this.encode) {
      // The encoder reserves room before it writes, so a record never spans two slabs.
      this.slab[i] = this.bytes.buf;
      this.end[i] = this.bytes.pos;
      this.start[i] = this.bytes.pos - written;
      this.batch[i] = null;
      this.encodedBytes += written;
    } else {
      this.slab[i] = null;
      this.batch[i] = batch;
    }
    return { samples: batch.samples.length, readings, events: batch.events.length };
  }

  /** Seq of the n-th record from the head. */
  seqAt(n: number): number {
    return this.seq[this.head + n]!;
  }

  /** Records from the head whose items add up to at most `maxItems` (at least one record). */
  countFor(maxItems: number): number {
    let items = 0;
    let n = 0;
    while (this.head + n < this.tail && (n === 0 || items < maxItems)) {
      items += this.samples[this.head + n]! + this.events[this.head + n]!;
      n++;
    }
    return n;
  }

  counts(n: number): RecordCounts {
    const c = { samples: 0, readings: 0, events: 0 };
    for (let i = this.head; i < this.head + n; i++) {
      c.samples += this.samples[i]!;
      c.readings += this.readings[i]!;
      c.events += this.events[i]!;
    }
    return c;
  }

  latestTimes(n: number): number[] {
    return Array.from(this.latestTs.subarray(this.head, this.head + n));
  }

  /** The first n records in the store's wire form: one chunk per slab they span. */
  chunks(n: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    let i = this.head;
    const last = this.head + n;
    while (i < last) {
      const slab = this.slab[i]!;
      const from = this.start[i]!;
      while (i + 1 < last && this.slab[i + 1] === slab) i++;
      out.push(slab.subarray(from, this.end[i]!));
      i++;
    }
    return out;
  }

  /** The first n records as one batch (stores without a wire form). */
  merged(n: number): IngestBatch {
    const samples: Sample[] = [];
    const events: MachineEvent[] = [];
    for (let i = this.head; i < this.head + n; i++) {
      const b = this.batch[i]!;
      for (const s of b.samples) samples.push(s);
      for (const e of b.events) events.push(e);
    }
    return { samples, events };
  }

  get encoded(): boolean {
    return this.encode !== null;
  }

  /** Memory the queued records hold where the store encodes: their bytes plus the columns' share. */
  get memoryBytes(): number {
    return this.encodedBytes + this.length * RECORD_OVERHEAD_BYTES;
  }

  /** Drops the first n records (committed). */
  drop(n: number): void {
    const end = this.head + n;
    const next = end < this.tail ? this.slab[end] : null;
    for (let i = this.head; i < end; i++) {
      const slab = this.slab[i];
      // The last record of a slab in the queue: the slab is free unless the next record still uses it.
      if (slab && (i + 1 < end ? this.slab[i + 1] !== slab : next !== slab)) this.bytes.recycle(slab);
      if (slab) this.encodedBytes -= this.end[i]! - this.start[i]!;
      this.slab[i] = null;
      this.batch[i] = null;
    }
    this.head += n;
    if (this.head === this.tail) this.head = this.tail = 0;
  }

  private grow(): void {
    const live = this.tail - this.head;
    // Room at the front from dropped records is reused before the columns grow.
    const capacity = this.capacity > 0 && live * 2 <= this.capacity ? this.capacity : Math.max(1024, this.capacity * 2);
    const move = <T extends Float64Array | Uint32Array>(from: T, make: (n: number) => T): T => {
      const to = capacity === this.capacity ? from : make(capacity);
      to.set(from.subarray(this.head, this.tail), 0);
      return to;
    };
    this.seq = move(this.seq, (n) => new Float64Array(n));
    this.samples = move(this.samples, (n) => new Uint32Array(n));
    this.readings = move(this.readings, (n) => new Uint32Array(n));
    this.events = move(this.events, (n) => new Uint32Array(n));
    this.latestTs = move(this.latestTs, (n) => new Float64Array(n));
    this.start = move(this.start, (n) => new Uint32Array(n));
    this.end = move(this.end, (n) => new Uint32Array(n));
    this.slab = this.slab.slice(this.head, this.tail);
    this.batch = this.batch.slice(this.head, this.tail);
    this.slab.length = capacity;
    this.batch.length = capacity;
    this.capacity = capacity;
    this.head = 0;
    this.tail = live;
  }
}
