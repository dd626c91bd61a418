import type { IngestBatch, MachineEvent, MachineEventType, MachineRef, Sample } from './types.js';

export interface ReadingQuery {
  machine: string;
  /** Inclusive, epoch ms. */
  from: number;
  /** Exclusive, epoch ms. */
  to: number;
  /** Only these sensors; all when absent or empty. */
  sensors?: string[];
  /** At most this many samples (the earliest ones). */
  limit?: number;
}

export interface EventQuery {
  machine?: string;
  from?: number;
  to?: number;
  types?: MachineEventType[];
}

export interface MachineInfo {
  ref: MachineRef;
  /** Every sensor ever stored for the machine, sorted. */
  sensors: string[];
  /** Time of its latest stored sample, epoch ms. */
  lastTs: number | null;
}

/**
 * The store refused (part of) a batch for good: retrying the same data can never succeed (InfluxDB's
 * "partial write", e.g. a field type conflict). The writer records it and moves on instead of
 * stalling every reading behind it; transient errors (unreachable, auth, timeouts) are retried.
 */
export class StoreRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreRejectedError';
  }
}

export interface StoreHealth {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

/**
 * What a write changed, where the store can tell: readings new or with a new value, and the samples
 * (machine, time) they belong to. A redelivered message rewrites the same values and adds nothing.
 */
export interface WriteCounts {
  samples: number;
  readings: number;
}

/** Where a store writes its wire form: `reserve(n)` makes room for n bytes at `pos` of `buf` (perhaps a new buf). */
export interface ByteSink {
  buf: Buffer;
  pos: number;
  reserve(bytes: number): void;
}

/**
 * Where sensor data lives. Writes are idempotent on (machine, sensor, ts) and on (machine, ts, type)
 * for events, so replaying a journal or a broker redelivery never duplicates anything.
 */
export interface SensorStore {
  readonly kind: 'sqlite' | 'influx';
  /** The store writes values as decimal text and copies `Sample.valueText` when the decoder kept it. */
  readonly usesValueText?: boolean;
  /** Prepares schema/database. May reject when the server is unreachable; `write` retries it. */
  open(): Promise<void>;
  /** Resolves with what it changed where the store can tell (SQLite), else with nothing (InfluxDB overwrites silently). */
  write(batch: IngestBatch): Promise<WriteCounts | void>;
  /**
   * Optional: writes the store's wire form of a batch into `out` (reserving room first) and returns
   * the bytes written. The writer's queue then holds bytes rather than sample objects, which at full
   * speed live just long enough to be promoted to V8's old generation (see pending-queue.ts).
   */
  encodeInto?(batch: IngestBatch, out: ByteSink): number;
  /** Writes what `encodeInto` made, in order, as one request. */
  writeEncoded?(chunks: readonly Uint8Array[]): Promise<WriteCounts | void>;
  queryReadings(query: ReadingQuery): Promise<Sample[]>;
  /**
   * The mean of each sensor per bucket of `everyMs` (buckets aligned to the epoch, each sample
   * stamped with its bucket's start, empty buckets left out), computed by the store, so a long range
   * costs the caller one sample per bucket rather than every reading.
   */
  aggregateReadings(query: Omit<ReadingQuery, 'limit'>, everyMs: number): Promise<Sample[]>;
  queryEvents(query: EventQuery): Promise<MachineEvent[]>;
  listMachines(): Promise<MachineInfo[]>;
  health(): Promise<StoreHealth>;
  close(): Promise<void>;
}
