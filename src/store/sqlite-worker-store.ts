import { Worker } from 'node:worker_threads';
import type { IngestBatch, MachineEvent, Sample } from '../core/types.js';
import { ByteSlabs } from '../journal/pending-queue.js';
import { encodeBatchInto } from './sample-codec.js';
import type { ByteSink, EventQuery, MachineInfo, ReadingQuery, SensorStore, StoreHealth } from '../core/sensor-store.js';

export type SqliteRequest = { id: number } & (
  | { op: 'open' | 'listMachines' | 'health' | 'close' }
  | { op: 'write'; bytes: ArrayBuffer }
  | { op: 'queryReadings'; query: ReadingQuery }
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
 * The embedded SQLite sensor store as the daemon uses it: the database lives in its own thread
 * (sqlite-worker.ts), so a slow commit, a long query or a lock held by another process never stalls
 * the event loop — ingest keeps reading and journalling, and the writer retries with backoff as for
 * any store that is down. Batches travel as one binary buffer (sample-codec.ts), which the writer's
 * queue also holds in place of sample objects.
 */
export class SqliteWorkerStore implements SensorStore {
  readonly kind = 'sqlite' as const;
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly scratch = new ByteSlabs();

  constructor(
    private readonly file: string,
    private readonly options: SqliteWorkerStoreOptions = { busyTimeoutMs: 1000 },
  ) {}

  async open(): Promise<void> {
    await this.call({ op: 'open' });
  }

  encodeInto(batch: IngestBatch, out: ByteSink): number {
    return encodeBatchInto(batch, out);
  }

  async writeEncoded(chunks: readonly Uint8Array[]): Promise<void> {
    let size = 0;
    for (const c of chunks) size += c.byteLength;
    // One buffer, moved (not copied) to the database thread.
    const bytes = new Uint8Array(new ArrayBuffer(size));
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    await this.call({ op: 'write', bytes: bytes.buffer }, [bytes.buffer]);
  }

  async write(batch: IngestBatch): Promise<void> {
    this.scratch.pos = 0;
    const n = encodeBatchInto(batch, this.scratch);
    await this.writeEncoded([this.scratch.buf.subarray(this.scratch.pos - n, this.scratch.pos)]);
  }

  queryReadings(query: ReadingQuery): Promise<Sample[]> {
    return this.call({ op: 'queryReadings', query }) as Promise<Sample[]>;
  }

  queryEvents(query: EventQuery): Promise<MachineEvent[]> {
    return this.call({ op: 'queryEvents', query }) as Promise<MachineEvent[]>;
  }

  listMachines(): Promise<MachineInfo[]> {
    return this.call({ op: 'listMachines' }) as Promise<MachineInfo[]>;
  }

  health(): Promise<StoreHealth> {
    return this.call({ op: 'health' }) as Promise<StoreHealth>;
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

  private call(req: { op: SqliteRequest['op'] } & Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.ensure();
    const id = this.nextId++;
    // Referenced while a request is out: an awaited open() must keep the process alive.
    worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...req, id }, transfer);
    });
  }

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./sqlite-worker.js', import.meta.url), {
      workerData: { file: this.file, busyTimeoutMs: this.options.busyTimeoutMs },
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
      this.failAll(new SqliteThreadError(`sqlite store thread ${why}`));
      this.reopen = true;
    };
    worker.on('error', (err) => onDeath(`crashed: ${err.message}`));
    worker.on('exit', (code) => onDeath(`exited with code ${code}`));
    worker.unref();
    this.worker = worker;
    if (this.reopen) {
      this.reopen = false;
      // Queued before anything else the new thread is asked.
      const id = this.nextId++;
      this.pending.set(id, { resolve: () => undefined, reject: () => undefined });
      worker.postMessage({ op: 'open', id });
    }
    return worker;
  }

  private reopen = false;

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
