import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { BatchWriter, type CommitInfo } from '../../src/journal/batch-writer.js';
import { DurableQueue } from '../../src/journal/durable-queue.js';
import { Journal } from '../../src/journal/journal.js';
import { ByteSlabs } from '../../src/core/byte-slabs.js';
import { RECORD_OVERHEAD_BYTES } from '../../src/journal/pending-queue.js';
import type { Sample } from '../../src/core/types.js';
import { batchOf, sample, tempDir } from '../support/fixtures.js';
import { FlakyStore } from '../support/flaky-store.js';

const log = silentLogger();

/** Each suite runs twice: the writer queueing sample objects (SQLite) and the store's wire form (InfluxDB). */
let encoded = false;

async function setup(options: { batchSize?: number; maxPendingSamples?: number; maxPendingBytes?: number; maxBytes?: number } = {}) {
  const store = new FlakyStore({ encoded });
  await store.open();
  const dir = tempDir();
  const journal = Journal.open({ dir, maxBytes: options.maxBytes ?? 1 << 20, segmentBytes: 4096, fsyncIntervalMs: 0 }, systemClock, log);
  const writer = new BatchWriter(store, journal, systemClock, log, {
    batchSize: options.batchSize ?? 100,
    flushIntervalMs: 200,
    maxPendingSamples: options.maxPendingSamples ?? 10_000,
    maxPendingBytes: options.maxPendingBytes ?? 8 << 20,
    retryInitialMs: 500,
    retryMaxMs: 4000,
  });
  const queue = new DurableQueue(journal, writer, systemClock, log, 1000);
  writer.start();
  return { store, journal, writer, queue, dir };
}

/** What one single-sample record holds in an encoded queue. */
function recordBytes(s: Sample): number {
  const slabs = new ByteSlabs();
  return new FlakyStore({ encoded: true }).encodeInto!(batchOf(s), slabs) + RECORD_OVERHEAD_BYTES;
}

const count = async (store: FlakyStore) => (await store.queryReadings({ machine: 'm1', from: 0, to: 1e15 })).length;

describe.each([
  ['sample objects', false],
  ['encoded batches', true],
])('batch writer queueing %s', (_, withEncoding) => {
  beforeEach(() => {
    encoded = withEncoding;
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('commits on the flush interval and trims the journal', async () => {
    const { store, journal, writer, queue } = await setup();
    for (let i = 0; i < 10; i++) queue.accept(batchOf(sample(1000 + i)));
    expect(journal.stats.depth).toBe(10);
    expect(await count(store)).toBe(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(10);
    expect(journal.stats.depth).toBe(0);
    expect(writer.stats.readingsStored).toBe(10);
  });

  it('counts what the store stored: a redelivered message (journalled twice) adds nothing to samplesStored', async () => {
    const { store, writer, queue } = await setup();
    for (let i = 0; i < 10; i++) queue.accept(batchOf(sample(1000 + i)));
    // The broker sends the same messages again (an acknowledgement lost with a connection).
    for (let i = 0; i < 10; i++) queue.accept(batchOf(sample(1000 + i)));
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(10);
    expect(writer.stats).toMatchObject({ samplesStored: 10, readingsStored: 10 });
  });

  it('commits at once when a full batch is waiting, in seq order', async () => {
    const { store, writer, queue } = await setup({ batchSize: 5 });
    const commits: number[] = [];
    writer.on('commit', (c: CommitInfo) => commits.push(c.samples));
    for (let i = 0; i < 12; i++) queue.accept(batchOf(sample(1000 + i)));
    await vi.advanceTimersByTimeAsync(0);
    expect(commits).toEqual([5, 5]);
    await vi.advanceTimersByTimeAsync(200);
    expect(commits).toEqual([5, 5, 2]);
    expect(await count(store)).toBe(12);
  });

  it('retries with capped exponential backoff while the store is down and loses nothing', async () => {
    const { store, writer, queue, journal } = await setup();
    store.down = true;
    for (let i = 0; i < 50; i++) queue.accept(batchOf(sample(1000 + i)));
    await vi.advanceTimersByTimeAsync(200);
    expect(writer.stats.state).toBe('down');
    const attemptsAt = (ms: number) => vi.advanceTimersByTimeAsync(ms).then(() => store.writes);
    // 500, 1000, 2000, 4000, 4000… with ±20% jitter: about 5 attempts in 12 s, not one per flush tick.
    const after12s = await attemptsAt(12_000);
    expect(after12s).toBeGreaterThanOrEqual(4);
    expect(after12s).toBeLessThanOrEqual(7);
    for (let i = 50; i < 80; i++) queue.accept(batchOf(sample(1000 + i)));
    expect(journal.stats.depth).toBe(80);
    store.down = false;
    await vi.advanceTimersByTimeAsync(5000);
    expect(writer.stats.state).toBe('up');
    expect(await count(store)).toBe(80);
    expect(journal.stats.depth).toBe(0);
    expect(writer.stats.commitFailures).toBe(store.failures);
  });

  it('records a batch the store refuses for good and moves on instead of retrying it forever', async () => {
    const { store, writer, queue, journal } = await setup();
    store.rejectNext = true;
    for (let i = 0; i < 3; i++) queue.accept(batchOf(sample(1000 + i)));
    await vi.advanceTimersByTimeAsync(200);
    expect(writer.stats.storeRejections).toBe(1);
    expect(writer.stats.lastStoreRejection).toMatch(/field type conflict/);
    expect(writer.stats.state).toBe('up');
    expect(journal.stats.depth).toBe(0);
    queue.accept(batchOf(sample(2000)));
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(1);
    expect(store.writes).toBe(2);
  });

  it('flush() commits everything, or reports false when the store stays down', async () => {
    const { store, writer, queue } = await setup();
    for (let i = 0; i < 7; i++) queue.accept(batchOf(sample(1000 + i)));
    const ok = writer.flush(5000);
    await vi.advanceTimersByTimeAsync(0);
    expect(await ok).toBe(true);
    expect(await count(store)).toBe(7);

    store.down = true;
    queue.accept(batchOf(sample(2000)));
    const failed = writer.flush(3000);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await failed).toBe(false);
  });
});

describe.each([
  ['sample objects', false],
  ['encoded batches', true],
])('durable queue backpressure, queueing %s', (_, withEncoding) => {
  beforeEach(() => {
    encoded = withEncoding;
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('keeps acknowledging past its memory budget: the backlog stays on disk and is read back in order', async () => {
    // The budget that applies: samples where batches are queued, bytes where the wire form is.
    const budget = encoded
      ? { maxPendingBytes: 5 * recordBytes(sample(1000)), maxPendingSamples: 1_000 }
      : { maxPendingSamples: 5, maxPendingBytes: 1 };
    const { store, queue, writer, journal } = await setup({ ...budget, batchSize: 4 });
    store.down = true;
    for (let i = 0; i < 30; i++) expect(queue.accept(batchOf(sample(1000 + i)))).toBeUndefined();
    expect(writer.stats.pendingSamples).toBe(5);
    if (encoded) expect(writer.stats.pendingBytes).toBe(budget.maxPendingBytes);
    expect(writer.stats.catchingUp).toBe(true);
    expect(journal.stats.depth).toBe(30);
    const committed: number[] = [];
    writer.on('commit', (c: CommitInfo) => committed.push(...c.latestTs));
    store.down = false;
    await vi.advanceTimersByTimeAsync(5000);
    // Memory first (the first five), then the journal, each record once, in seq order.
    expect(committed).toEqual(Array.from({ length: 30 }, (_, i) => 1000 + i));
    expect(writer.stats.catchingUp).toBe(false);
    expect(journal.stats.depth).toBe(0);
    // Back on the memory path.
    queue.accept(batchOf(sample(2000)));
    expect(writer.stats.pendingSamples).toBe(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(31);
  });

  it('holds messages at the journal disk cap', async () => {
    const { store, queue, journal } = await setup({ maxBytes: 1200 });
    store.down = true;
    let n = 0;
    while (queue.accept(batchOf(sample(1000 + n))) === undefined) {
      n++;
      expect(n).toBeLessThan(200);
    }
    expect(journal.isFull()).toBe(true);
    store.down = false;
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await count(store)).toBe(n + 1);
  });

  it('on close, refuses a message held at the disk cap at once instead of waiting for the store', async () => {
    const { store, queue } = await setup({ maxBytes: 1200 });
    store.down = true;
    let held: void | Promise<void>;
    let n = 0;
    while ((held = queue.accept(batchOf(sample(1000 + n)))) === undefined) n++;
    let outcome = 'waiting';
    held!.then(
      () => (outcome = 'accepted'),
      (err: Error) => (outcome = err.message),
    );
    await vi.advanceTimersByTimeAsync(5000);
    expect(outcome).toBe('waiting');
    queue.close();
    await vi.advanceTimersByTimeAsync(0);
    expect(outcome).toMatch(/stopping/);
    await expect(queue.accept(batchOf(sample(5000)))).rejects.toThrow(/stopping/);
  });

  it('catches up past a segment that was cut short by corruption', async () => {
    const first = await setup();
    first.store.down = true;
    // Small segments so the damage hits an early one and later ones survive.
    const dir = first.dir;
    first.writer.stop();
    const journal0 = Journal.open({ dir, maxBytes: 1 << 20, segmentBytes: 300, fsyncIntervalMs: 0 }, systemClock, log);
    for (let i = 0; i < 20; i++) journal0.append(batchOf(sample(1000 + i)));
    const { readdirSync, readFileSync, writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const segs = readdirSync(dir)
      .filter((f) => f.endsWith('.wal'))
      .sort();
    expect(segs.length).toBeGreaterThan(2);
    const victim = path.join(dir, segs[0]!);
    const buf = readFileSync(victim);
    buf[buf.length - 3]! ^= 0xff; // corrupt the last record of the first segment
    writeFileSync(victim, buf);

    const store = new FlakyStore();
    await store.open();
    const journal = Journal.open({ dir, maxBytes: 1 << 20, segmentBytes: 300, fsyncIntervalMs: 0 }, systemClock, log);
    expect(journal.stats.corruptRecords).toBe(1);
    const writer = new BatchWriter(store, journal, systemClock, log, {
      batchSize: 100,
      flushIntervalMs: 200,
      maxPendingSamples: 10_000,
      maxPendingBytes: 8 << 20,
      retryInitialMs: 500,
      retryMaxMs: 4000,
    });
    writer.resumeFromJournal();
    writer.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(writer.stats.catchingUp).toBe(false);
    expect(await count(store)).toBe(19);
    expect(journal.stats.depth).toBe(0);
    // New data flows through memory again.
    const queue = new DurableQueue(journal, writer, systemClock, log);
    queue.accept(batchOf(sample(5000)));
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(20);
  });

  it('commits what the last run left in the journal after a restart', async () => {
    const first = await setup();
    first.store.down = true;
    for (let i = 0; i < 20; i++) first.queue.accept(batchOf(sample(1000 + i)));
    first.writer.stop();
    // "Crash": a new journal, writer and healthy store over the same directory.
    const store = new FlakyStore();
    await store.open();
    const journal = Journal.open({ dir: first.dir, maxBytes: 1 << 20, segmentBytes: 4096, fsyncIntervalMs: 0 }, systemClock, log);
    const writer = new BatchWriter(store, journal, systemClock, log, {
      batchSize: 100,
      flushIntervalMs: 200,
      maxPendingSamples: 10_000,
      maxPendingBytes: 8 << 20,
      retryInitialMs: 500,
      retryMaxMs: 4000,
    });
    writer.start();
    writer.resumeFromJournal();
    expect(writer.stats.catchingUp).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(await count(store)).toBe(20);
    expect(journal.stats.depth).toBe(0);
  });
});
