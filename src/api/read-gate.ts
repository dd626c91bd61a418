import { Type } from '@sinclair/typebox';
import { VigilError } from '../core/errors.js';
import { stageReport, type StageReport } from '../core/stage-report.js';

export interface ReadGateStats {
  running: number;
  queued: number;
  /** Reads refused with 503 because the queue was full. */
  refused: number;
}

/**
 * Bounds the expensive reads (a machine's readings or events over a long range) under way at once:
 * each costs the store's time and the memory of its answer, and anonymous clients may make them. A
 * few run; a few more wait in line; past that a read is answered 503 with Retry-After at once, so
 * status, readiness and ingest keep their share of the gateway however many reads arrive.
 */
export class ReadGate {
  readonly stats: ReadGateStats = { running: 0, queued: 0, refused: 0 };
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly maxQueued: number,
    /** Said in Retry-After. */
    private readonly retryAfterSeconds = 2,
  ) {}

  async run<T>(what: string, read: () => Promise<T>): Promise<T> {
    if (this.stats.running >= this.concurrency) {
      if (this.queue.length >= this.maxQueued) {
        this.stats.refused++;
        throw new VigilError(
          'VGL_BUSY',
          `too many expensive reads under way (${this.concurrency} running, ${this.maxQueued} waiting); ${what} not started, retry in ${this.retryAfterSeconds} s`,
          { details: { retryAfterSeconds: this.retryAfterSeconds } },
        );
      }
      const turn = new Promise<void>((resolve) => this.queue.push(resolve));
      this.stats.queued = this.queue.length;
      await turn;
    } else this.stats.running++;
    try {
      return await read();
    } finally {
      const next = this.queue.shift();
      this.stats.queued = this.queue.length;
      // The slot passes to the next in line, or is freed.
      if (next) next();
      else this.stats.running--;
    }
  }
}

export const readGateFields = {
  readsRunning: Type.Integer({ description: 'expensive reads (readings, events over a range) running against the store' }),
  readsQueued: Type.Integer({ description: 'expensive reads waiting for a slot' }),
  readsRefused: Type.Integer({ description: 'expensive reads answered 503 because too many were running and waiting' }),
};

/** The API's expensive reads, reported with the store they read. */
export function readGateReport(gate: ReadGate): StageReport<typeof readGateFields> {
  return stageReport({
    section: 'store',
    fields: readGateFields,
    read: () => ({ readsRunning: gate.stats.running, readsQueued: gate.stats.queued, readsRefused: gate.stats.refused }),
    metrics: [
      {
        name: 'vigil_http_reads_refused_total',
        help: 'expensive reads answered 503 (too many running and waiting)',
        type: 'counter',
        read: () => gate.stats.refused,
      },
    ],
  });
}
