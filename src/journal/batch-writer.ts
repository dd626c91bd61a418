import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../core/clock.js';
import { backoffDelay } from '../core/backoff.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RateMeter } from '../core/rate.js';
import type { IngestBatch } from '../core/types.js';
import type { Journal } from './journal.js';
import { PendingQueue } from './pending-queue.js';
import { StoreRejectedError, type SensorStore, type WriteCounts } from '../core/sensor-store.js';

/** Samples and events read back from the journal per turn of the event loop while catching up (a few milliseconds of decoding). */
const READ_BACK_ITEMS = 250;

export interface BatchWriterOptions {
  batchSize: number;
  flushIntervalMs: number;
  /**
   * Memory budget where the queue keeps batches as objects (stores without a wire form, e.g. SQLite):
   * beyond this many queued samples, new batches stay on disk only and are read back.
   */
  maxPendingSamples: number;
  /**
   * Memory budget where the queue keeps the store's wire form (InfluxDB line protocol), counted in
   * bytes: a sample costs a few hundred bytes there against a kilobyte or more as objects, so the
   * same memory holds a longer burst without reading it back and decoding it a second time.
   */
  maxPendingBytes: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface WriterStats {
  state: 'up' | 'down';
  /** Samples queued in memory; the full backlog is the journal's depth. */
  pendingSamples: number;
  /** Bytes the queued records hold where the store's wire form is queued (0 otherwise). */
  pendingBytes: number;
  pendingEvents: number;
  /** True while the writer reads its backlog from the journal instead of memory. */
  catchingUp: boolean;
  samplesStored: number;
  readingsStored: number;
  eventsStored: number;
  commits: number;
  commitFailures: number;
  /** Batches the store refused for good (e.g. a field type conflict); not retried. */
  storeRejections: number;
  lastStoreRejection: string | null;
  lastCommitAt: number | null;
  lastCommitMs: number | null;
  lastError: string | null;
  downSince: number | null;
}

export interface CommitInfo {
  samples: number;
  readings: number;
  events: number;
  /** Per journal record committed, the time of its latest sample: one message each from MQTT. */
  latestTs: number[];
  durationMs: number;
  committedAt: number;
}

/**
 * Commits journalled batches to the store in seq order, by size and by time. While the store is down
 * it retries the same batch with capped exponential backoff and jitter; nothing is dropped. After a
 * commit the journal is trimmed. New batches queue in memory up to a budget; past it (a long outage,
 * a burst) and after a restart, the writer reads its backlog back from the journal, so memory stays
 * bounded while the disk absorbs the outage. Emits `commit` (CommitInfo) and `drain` (space freed).
 */
export class BatchWriter extends EventEmitter {
  private readonly queue: PendingQueue;
  /** Next journal seq to read back while catching up. */
  private diskFrom = 0;
  /** Records at the head of the queue in the commit under way (or to retry); 0 when none. */
  private inFlight = 0;
  private timer: TimerHandle;
  private retryTimer: TimerHandle;
  /** Failed commits in a row: the backoff's exponent. */
  private failuresInRow = 0;
  private committing = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  readonly storeRate: RateMeter;
  readonly stats: WriterStats = {
    state: 'up',
    pendingSamples: 0,
    pendingBytes: 0,
    pendingEvents: 0,
    catchingUp: false,
    samplesStored: 0,
    readingsStored: 0,
    eventsStored: 0,
    commits: 0,
    commitFailures: 0,
    storeRejections: 0,
    lastStoreRejection: null,
    lastCommitAt: null,
    lastCommitMs: null,
    lastError: null,
    downSince: null,
  };

  constructor(
    private readonly store: SensorStore,
    private readonly journal: Journal,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: BatchWriterOptions,
  ) {
    super();
    this.queue = new PendingQueue(store.encodeInto && store.writeEncoded ? (batch, out) => store.encodeInto!(batch, out) : null);
    this.storeRate = new RateMeter(clock);
  }

  start(): void {
    this.stopped = false;
    this.timer = this.clock.setInterval(() => this.pump(), this.options.flushIntervalMs);
  }

  /** Takes a journalled batch; commits at once when a full batch is waiting. */
  enqueue(seq: number, batch: IngestBatch): void {
    const st = this.stats;
    if (st.catchingUp || this.overBudget(batch.samples.length)) {
      // It is in the journal already; read it back from there once the memory queue is drained.
      if (!st.catchingUp) {
        st.catchingUp = true;
        this.diskFrom = seq;
        this.log.info(
          { fromSeq: seq, pendingSamples: st.pendingSamples, pendingBytes: st.pendingBytes },
          'memory budget reached; the backlog will be read back from the journal',
        );
      }
      return;
    }
    this.push(seq, batch);
    if (st.pendingSamples >= this.options.batchSize && !this.committing && this.retryTimer === undefined) this.pump();
  }

  private overBudget(incomingSamples: number): boolean {
    if (this.queue.encoded) return this.queue.memoryBytes >= this.options.maxPendingBytes;
    return this.stats.pendingSamples + incomingSamples > this.options.maxPendingSamples;
  }

  private push(seq: number, batch: IngestBatch): void {
    const counts = this.queue.push(seq, batch);
    this.stats.pendingSamples += counts.samples;
    this.stats.pendingEvents += counts.events;
    this.stats.pendingBytes = this.queue.encoded ? this.queue.memoryBytes : 0;
  }

  /** Everything from the first uncommitted journal record on is read back from disk (after a restart). */
  resumeFromJournal(): void {
    if (this.journal.lastSeq <= this.journal.committed) return;
    this.stats.catchingUp = true;
    this.diskFrom = this.journal.committed + 1;
  }

  private get backlog(): boolean {
    return this.queue.length > 0 || this.stats.catchingUp;
  }

  /** Records for the next commit, from memory, or read back from the journal once memory is drained. */
  private takeBatch(): number {
    if (this.queue.length === 0 && this.stats.catchingUp) this.takeFromJournal();
    return this.queue.length === 0 ? 0 : this.queue.countFor(this.options.batchSize);
  }

  /**
   * Reads the next records of the backlog into the (empty) memory queue, one by one as they are
   * decoded. Each is decoded again on this thread, so a read takes at most READ_BACK_ITEMS: the
   * event loop that serves MQTT and HTTP is never held for a whole batch of thousands.
   */
  private takeFromJournal(): void {
    const last = this.journal.readEach(this.diskFrom, Math.min(this.options.batchSize, READ_BACK_ITEMS), (seq, batch) =>
      this.push(seq, batch),
    );
    // Nothing readable left (only gaps): the backlog is done, not stuck.
    this.diskFrom = last >= this.diskFrom ? last + 1 : this.journal.lastSeq + 1;
    if (this.diskFrom > this.journal.lastSeq) {
      // Caught up: anything enqueued from now on has a higher seq and can queue in memory again.
      this.stats.catchingUp = false;
      this.log.info({ throughSeq: this.diskFrom - 1 }, 'caught up with the journal');
    }
  }

  private prefetching = false;

  /**
   * Reads the backlog ahead of the commit in flight, READ_BACK_ITEMS per turn of the event loop,
   * until a batch's worth waits in memory: decoding on this thread then overlaps with the store's
   * work instead of alternating with it.
   */
  private schedulePrefetch(): void {
    if (this.prefetching || !this.stats.catchingUp || this.stopped) return;
    this.prefetching = true;
    setImmediate(() => {
      this.prefetching = false;
      if (this.stopped || !this.stats.catchingUp || this.stats.pendingSamples + this.stats.pendingEvents >= 2 * this.options.batchSize)
        return;
      this.takeFromJournal();
      this.schedulePrefetch();
    });
  }

  private pump(): void {
    if (this.committing || this.retryTimer !== undefined) return;
    if (this.inFlight === 0) {
      if (!this.backlog) {
        this.notifyIdle();
        return;
      }
      this.inFlight = this.takeBatch();
      if (this.inFlight === 0) return;
    }
    void this.commit(this.inFlight);
  }

  private async commit(records: number): Promise<void> {
    this.committing = true;
    // While the store works on this batch, the next is read back (in slices) and waits in memory.
    this.schedulePrefetch();
    const { samples, readings, events } = this.queue.counts(records);
    const lastSeq = this.queue.seqAt(records - 1);
    const t0 = this.clock.now();
    const started = performance.now();
    // What the store says it changed, where it can tell: a redelivered message adds nothing to the counts.
    let stored: WriteCounts | void = undefined;
    try {
      stored = await this.write(records);
    } catch (err) {
      if (err instanceof StoreRejectedError) {
        this.stats.storeRejections++;
        this.stats.lastStoreRejection = err.message.slice(0, 500);
        this.log.error({ err, firstSeq: this.queue.seqAt(0), lastSeq }, 'store refused part of a batch for good; moving on');
      } else {
        this.committing = false;
        this.onFailure(err);
        return;
      }
    }
    const durationMs = performance.now() - started;
    this.committing = false;
    const latestTs = this.listenerCount('commit') > 0 ? this.queue.latestTimes(records) : [];
    this.queue.drop(records);
    this.inFlight = 0;
    this.journal.commit(lastSeq);
    const st = this.stats;
    st.pendingSamples -= samples;
    st.pendingEvents -= events;
    st.pendingBytes = this.queue.encoded ? this.queue.memoryBytes : 0;
    st.samplesStored += stored ? stored.samples : samples;
    st.readingsStored += stored ? stored.readings : readings;
    st.eventsStored += events;
    st.commits++;
    st.lastCommitAt = this.clock.now();
    st.lastCommitMs = durationMs;
    this.storeRate.add(readings);
    if (st.state === 'down') {
      this.log.info({ downForMs: t0 - (st.downSince ?? t0) }, 'store is reachable again; catching up');
      st.state = 'up';
      st.downSince = null;
      st.lastError = null;
    }
    this.failuresInRow = 0;
    if (this.listenerCount('commit') > 0) {
      this.emit('commit', { samples, readings, events, latestTs, durationMs, committedAt: st.lastCommitAt } satisfies CommitInfo);
    }
    this.emit('drain');
    // Keep going while a full batch is waiting, the journal holds a backlog, or a flush waits.
    if (this.stats.pendingSamples >= this.options.batchSize || this.stats.catchingUp || this.idleWaiters.length > 0) this.pump();
    else if (!this.backlog) this.notifyIdle();
  }

  private write(records: number): Promise<WriteCounts | void> {
    if (this.queue.encoded) return this.store.writeEncoded!(this.queue.chunks(records));
    return this.store.write(this.queue.merged(records));
  }

  private onFailure(err: unknown): void {
    const st = this.stats;
    st.commitFailures++;
    st.lastError = errorMessage(err);
    const delay = backoffDelay(++this.failuresInRow, {
      initialMs: this.options.retryInitialMs,
      maxMs: this.options.retryMaxMs,
      jitter: 0.2,
    });
    if (st.state === 'up') {
      st.state = 'down';
      st.downSince = this.clock.now();
      this.log.error({ err, pendingSamples: st.pendingSamples }, 'store write failed; keeping the batch and retrying with backoff');
    } else {
      this.log.warn({ err, retryInMs: delay, pendingSamples: st.pendingSamples }, 'store still unavailable');
    }
    if (this.stopped) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Commits everything queued, retrying as usual. Resolves true when the queue is empty, false if
   * the store stayed down until `timeoutMs` (what is left stays in the journal for the next start).
   */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = this.clock.now() + timeoutMs;
    while (this.journal.lastSeq > this.journal.committed || this.inFlight > 0) {
      const remaining = deadline - this.clock.now();
      if (remaining <= 0) return false;
      await new Promise<void>((resolve) => {
        const t = this.clock.setTimeout(resolve, remaining);
        this.idleWaiters.push(() => {
          this.clock.clearTimeout(t);
          resolve();
        });
        this.pump();
      });
    }
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearInterval(this.timer);
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }
}
