import { Worker } from 'node:worker_threads';
import type { IngestBatch, MachineEvent, Sample } from '../core/types.js';
import { ByteSlabs } from '../core/byte-slabs.js';
import { encodeBatchInto } from './sample-codec.js';
import type { ByteSink, EventQuery, MachineInfo, ReadingQuery, SensorStore, StoreHealth, WriteCounts } from '../core/sensor-store.js';

export type SqliteRequest = { id: number } & (
  | { op: 'open' | 'listMachines' | 'health' | 'close' }
  | { op: 'write'; bytes: ArrayBuffer }
  | { op: 'queryReadings'; query: ReadingQuery }
  | { op: 'aggregateReadings'; query: Omit<ReadingQuery, 'limit'>; everyMs: number }
  | { op: 'queryEvents'; query: EventQuery }
);
export type SqliteReply = { id: number } & ({ ok: true; value: unknown } | { ok: false; message: string; code?: string });

export interface SqliteWorkerStoreOptions {
  /** How long one statement waits for another connection's lock before it fails (and the writer retries with backoff). */
  busyTimeoutMs: number;
}

/** Errors from the database thread keep SQLite's code (SQLITE_BUSY, SQLITE_CORRUPT…). */
export class SqliteThreadError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SqliteThreadError';
  }
}

/**
 * One thread holding one connection to the database, answering requests in order. A thread that
 * dies is replaced at the next request, which opens the database again first.
 */
class DatabaseThread {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private reopen = false;

  constructor(
    private readonly role: 'writer' | 'reader',
    private readonly file: string,
    private readonly busyTimeoutMs: number,
  ) {}

  call(req: { op: SqliteRequest['op'] } & Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.ensure();
    const id = this.nextId++;
    // Referenced while a request is out: an awaited open() must keep the process alive.
    worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id }, transfer);
    });
  }

  get started(): boolean {
    return this.worker !== null;
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.worker = null;
      await w.terminate();
      this.failAll(new Error('sqlite store closed'));
    }
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), {
      workerData: { file: this.file, busyTimeoutMs: this.busyTimeoutMs },
      // A query's rows are short-lived garbage: a small young generation keeps the thread's memory
      // near its working set (a worker's default lets it grow by tens of megabytes under a burst).
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    worker.on('message', (r: SqliteReply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) worker.unref();
      if (r.ok) p.resolve(r.value);
      else p.reject(new SqliteThreadError(r.message, r.code));
    });
    const onDeath = (why: string) => {
      if (this.worker !== worker) return;
      // The next call starts a fresh thread, which opens the database again.
      this.worker = null;
      this.failAll(new SqliteThreadError(`sqlite ${this.role} thread ${why}`));
      this.reopen = true;
    };
    worker.on('error', (err) => onDeath(`crashed: ${err.message}`));
    worker.on('exit', (code) => onDeath(`exited with code ${code}`));
    worker.unref();
    this.worker = worker;
    // The reader opens the database on its first request; a replaced thread does too.
    if (this.reopen || this.role === 'reader') {
      this.reopen = false;
      const id = this.nextId++;
      this.pending.set(id, { resolve: () => undefined, reject: () => undefined });
      worker.postMessage({ op: 'open', id });
    }
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/**
 * The embedded SQLite sensor store as the daemon uses it: the database lives in threads of its own
 * (sqlite-worker.ts), so a slow commit, a long query or a lock held by another process never stalls
 * the event loop — ingest keeps reading and journalling, and the writer retries with backoff as for
 * any store that is down. Writes go to one thread and queries to another (WAL lets them run side by
 * side), so a long read never holds back a commit. Batches travel as one binary buffer
 * (sample-codec.ts), which the writer's queue also holds in place of sample objects.
 */
export class SqliteWorkerStore implements SensorStore {
  readonly kind = 'sqlite' as const;
  private readonly writer: DatabaseThread;
  private readonly reader: DatabaseThread;
  private readonly scratch = new ByteSlabs();

  constructor(file: string, options: SqliteWorkerStoreOptions = { busyTimeoutMs: 1000 }) {
    this.writer = new DatabaseThread('writer', file, options.busyTimeoutMs);
    this.reader = new DatabaseThread('reader', file, options.busyTimeoutMs);
  }

  async open(): Promise<void> {
    await this.writer.call({ op: 'open' });
  }

  encodeInto(batch: IngestBatch, out: ByteSink): number {
    return encodeBatchInto(batch, out);
  }

  async writeEncoded(chunks: readonly Uint8Array[]): Promise<WriteCounts> {
    let size = 0;
    for (const c of chunks) size += c.byteLength;
    // One buffer, moved (not copied) to the database thread.
    const bytes = new Uint8Array(new ArrayBuffer(size));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    return (await this.writer.call({ op: 'write', bytes: bytes.buffer }, [bytes.buffer])) as WriteCounts;
  }

  async write(batch: IngestBatch): Promise<WriteCounts> {
    this.scratch.pos = 0;
    const n = encodeBatchInto(batch, this.scratch);
    return this.writeEncoded([this.scratch.buf.subarray(this.scratch.pos - n, this.scratch.pos)]);
  }

  queryReadings(query: ReadingQuery): Promise<Sample[]> {
    return this.reader.call({ op: 'queryReadings', query }) as Promise<Sample[]>;
  }

  aggregateReadings(query: Omit<ReadingQuery, 'limit'>, everyMs: number): Promise<Sample[]> {
    return this.reader.call({ op: 'aggregateReadings', query, everyMs }) as Promise<Sample[]>;
  }

  queryEvents(query: EventQuery): Promise<MachineEvent[]> {
    return this.reader.call({ op: 'queryEvents', query }) as Promise<MachineEvent[]>;
  }

  listMachines(): Promise<MachineInfo[]> {
    return this.reader.call({ op: 'listMachines' }) as Promise<MachineInfo[]>;
  }

  health(): Promise<StoreHealth> {
    return this.writer.call({ op: 'health' }) as Promise<StoreHealth>;
  }

  async close(): Promise<void> {
    await Promise.all([this.reader.close(), this.writer.close()]);
  }
}
