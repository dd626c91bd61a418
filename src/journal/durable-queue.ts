import type { Clock } from '../core/clock.js';
import { sleep } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { BatchSink, IngestBatch, RawMessage } from '../core/types.js';
import type { BatchWriter } from './batch-writer.js';
import type { Journal } from './journal.js';

export interface BackpressureStats {
  active: boolean;
  since: number | null;
  episodes: number;
  journalErrors: number;
}

/**
 * Journal + batch writer as one sink. `accept` returns only once the batch is in the journal; when
 * the journal is at its disk cap it waits (so the message is not acknowledged and the broker stops
 * sending) instead of dropping anything.
 */
export class DurableQueue implements BatchSink {
  readonly backpressure: BackpressureStats = { active: false, since: null, episodes: 0, journalErrors: 0 };
  private closed = false;

  constructor(
    private readonly journal: Journal,
    private readonly writer: BatchWriter,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  /**
   * The journal records of one socket read written in one write, when the subscriber closes its
   * acknowledgement batch (its PUBACKs go out after that write).
   */
  readonly ackBatch = {
    begin: (): void => {
      this.journal.deferWrites = true;
    },
    end: (): void => {
      this.journal.deferWrites = false;
      this.journal.flushPending();
    },
  };

  private blocked(): boolean {
    return this.journal.isFull();
  }

  /**
   * Stops waiting for capacity: a batch held back by backpressure is refused (its message stays
   * unacknowledged with the broker) instead of keeping shutdown waiting for a store that is down.
   */
  close(): void {
    this.closed = true;
    this.wake?.();
  }

  accept(batch: IngestBatch, source?: RawMessage): void | Promise<void> {
    if (this.closed) return Promise.reject(new Error('ingest is stopping'));
    if (!this.blocked()) {
      try {
        this.writer.enqueue(this.journal.append(batch, source), batch);
        return;
      } catch (err) {
        this.onJournalError(err);
      }
    }
    return this.acceptWhenPossible(batch, source);
  }

  private async acceptWhenPossible(batch: IngestBatch, source?: RawMessage): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('ingest is stopping; the message stays with the broker');
      if (this.blocked()) {
        this.enterBackpressure();
        await this.capacity();
        continue;
      }
      try {
        this.writer.enqueue(this.journal.append(batch, source), batch);
        this.leaveBackpressure();
        return;
      } catch (err) {
        this.onJournalError(err);
        await sleep(this.clock, this.retryMs);
      }
    }
  }

  /** Resolves when the writer frees capacity, or after retryMs in case the trigger was missed. */
  private wake: (() => void) | null = null;

  private capacity(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.clock.clearTimeout(timer);
        this.writer.off('drain', done);
        this.wake = null;
        resolve();
      };
      this.wake = done;
      const timer = this.clock.setTimeout(done, this.retryMs);
      this.writer.on('drain', done);
    });
  }

  private enterBackpressure(): void {
    if (this.backpressure.active) return;
    this.backpressure.active = true;
    this.backpressure.since = this.clock.now();
    this.backpressure.episodes++;
    this.log.warn(
      { journalBytes: this.journal.stats.bytes, pendingSamples: this.writer.stats.pendingSamples },
      'backpressure: journal at its disk cap; no longer acknowledging messages until the store catches up',
    );
  }

  private leaveBackpressure(): void {
    if (!this.backpressure.active || this.blocked()) return;
    this.log.info({ forMs: this.clock.now() - (this.backpressure.since ?? 0) }, 'backpressure released');
    this.backpressure.active = false;
    this.backpressure.since = null;
  }

  private onJournalError(err: unknown): void {
    this.backpressure.journalErrors++;
    this.log.error({ err }, 'journal append failed; holding the message unacknowledged and retrying');
  }
}
