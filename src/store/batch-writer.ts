import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { RateMeter } from '../core/rate.js';
import type { IngestBatch, Sample } from '../core/types.js';
import type { Journal } from './journal.js';
import type { SensorStore } from './sensor-store.js';

export interface BatchWriterOptions {
  batchSize: number;
  flushIntervalMs: number;
  maxPendingSamples: number;
  retryInitialMs: number;
  retryMaxMs: number;
}

export interface WriterStats {
  state: 'up' | 'down';
  pendingSamples: number;
  pendingEvents: number;
  samplesStored: number;
  readingsStored: number;
  eventsStored: number;
  commits: number;
  commitFailures: number;
  lastCommitAt: number | null;
  lastCommitMs: number | null;
  lastError: string | null;
  downSince: number | null;
}

interface Entry {
  seq: number;
  batch: IngestBatch;
}

export interface CommitInfo {
  samples: readonly Sample[];
  readings: number;
  events: number;
  durationMs: number;
  committedAt: number;
}

/**
 * Commits journalled batches to the store in seq order, by size and by time. While the store is down
 * it retries the same batch with capped exponential backoff and jitter; nothing is dropped. After a
 * commit the journal is trimmed. Emits `commit` (CommitInfo) and `drain` (capacity freed).
 */
export class BatchWriter extends EventEmitter {
  private queue: Entry[] = [];
  private queueHead = 0;
  private inFlight: Entry[] | null = null;
  private timer: TimerHandle;
  private retryTimer: TimerHandle;
  private retryDelay: number;
  private committing = false;
  private stopped = false;
  private idleWaiters: Array<() => void> = [];
  readonly storeRate: RateMeter;
  readonly stats: WriterStats = {
    state: 'up',
    pendingSamples: 0,
    pendingEvents: 0,
    samplesStored: 0,
    readingsStored: 0,
    eventsStored: 0,
    commits: 0,
    commitFailures: 0,
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
    this.retryDelay = options.retryInitialMs;
    this.storeRate = new RateMeter(clock);
  }

  start(): void {
    this.stopped = false;
    this.timer = this.clock.setInterval(() => this.pump(), this.options.flushIntervalMs);
  }

  /** Queues a journalled batch; commits at once when a full batch is waiting. */
  enqueue(seq: number, batch: IngestBatch): void {
    this.queue.push({ seq, batch });
    this.stats.pendingSamples += batch.samples.length;
    this.stats.pendingEvents += batch.events.length;
    if (this.stats.pendingSamples >= this.options.batchSize && !this.committing && this.retryTimer === undefined) this.pump();
  }

  /** True while more is pending than memory allows; ingest then stops acknowledging. */
  isOverloaded(): boolean {
    return this.stats.pendingSamples >= this.options.maxPendingSamples;
  }

  private takeBatch(): Entry[] {
    const taken: Entry[] = [];
    let samples = 0;
    while (this.queueHead < this.queue.length && samples < this.options.batchSize) {
      const e = this.queue[this.queueHead++]!;
      taken.push(e);
      samples += e.batch.samples.length + e.batch.events.length;
    }
    if (this.queueHead > 4096 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return taken;
  }

  private pump(): void {
    if (this.committing || this.retryTimer !== undefined) return;
    if (!this.inFlight) {
      if (this.queueHead >= this.queue.length) {
        this.notifyIdle();
        return;
      }
      this.inFlight = this.takeBatch();
    }
    void this.commit(this.inFlight);
  }

  private async commit(entries: Entry[]): Promise<void> {
    this.committing = true;
    const samples: Sample[] = [];
    const events = [];
    for (const e of entries) {
      for (const s of e.batch.samples) samples.push(s);
      for (const ev of e.batch.events) events.push(ev);
    }
    const t0 = this.clock.now();
    const started = performance.now();
    try {
      await this.store.write({ samples, events });
    } catch (err) {
      this.committing = false;
      this.onFailure(err);
      return;
    }
    const durationMs = performance.now() - started;
    this.committing = false;
    this.inFlight = null;
    let readings = 0;
    for (const s of samples) for (const _ in s.values) readings++;
    this.journal.commit(entries[entries.length - 1]!.seq);
    const st = this.stats;
    st.pendingSamples -= samples.length;
    st.pendingEvents -= events.length;
    st.samplesStored += samples.length;
    st.readingsStored += readings;
    st.eventsStored += events.length;
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
    this.retryDelay = this.options.retryInitialMs;
    this.emit('commit', { samples, readings, events: events.length, durationMs, committedAt: st.lastCommitAt } satisfies CommitInfo);
    this.emit('drain');
    // Keep going while a full batch is waiting, or when flushing.
    if (this.stats.pendingSamples >= this.options.batchSize || this.idleWaiters.length > 0) this.pump();
    else if (this.queueHead >= this.queue.length) this.notifyIdle();
  }

  private onFailure(err: unknown): void {
    const st = this.stats;
    st.commitFailures++;
    st.lastError = errorMessage(err);
    if (st.state === 'up') {
      st.state = 'down';
      st.downSince = this.clock.now();
      this.log.error({ err: st.lastError, pendingSamples: st.pendingSamples }, 'store write failed; keeping the batch and retrying with backoff');
    } else {
      this.log.warn({ err: st.lastError, retryInMs: this.retryDelay, pendingSamples: st.pendingSamples }, 'store still unavailable');
    }
    if (this.stopped) return;
    const delay = Math.round(this.retryDelay * (0.8 + Math.random() * 0.4));
    this.retryDelay = Math.min(this.retryDelay * 2, this.options.retryMaxMs);
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
    while (this.stats.pendingSamples + this.stats.pendingEvents > 0 || this.inFlight) {
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
