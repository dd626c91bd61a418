import { describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../src/core/types.js';
import { PendingQueue, RECORD_OVERHEAD_BYTES } from '../../src/journal/pending-queue.js';
import type { ByteSink } from '../../src/core/sensor-store.js';
import { batchOf, sample } from '../support/fixtures.js';

/** Writes one line per record, "<ts>,<ts>…", padded to `pad` bytes when given (big records force new slabs). */
function encoder(pad = 0) {
  return (batch: IngestBatch, out: ByteSink): number => {
    const line = batch.samples.map((s) => s.ts).join(',');
    const bytes = Buffer.from(`${pad > line.length ? line.padEnd(pad - 1, '.') : line}\n`);
    out.reserve(bytes.length);
    bytes.copy(out.buf, out.pos);
    out.pos += bytes.length;
    return bytes.length;
  };
}
const text = (q: PendingQueue, n: number) => Buffer.concat(q.chunks(n)).toString();

describe('pending queue', () => {
  it('keeps records in order through many pushes and drops, reusing the room dropped ones leave', () => {
    const q = new PendingQueue(encoder());
    let next = 0;
    let first = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 700; i++, next++) q.push(next, batchOf(sample(next, { a: 1, b: 2 })));
      expect(q.length).toBe(next - first);
      expect(q.seqAt(0)).toBe(first);
      const n = q.countFor(1200);
      expect(n).toBe(Math.min(1200, next - first));
      expect(q.counts(n)).toEqual({ samples: n, readings: 2 * n, events: 0 });
      expect(q.latestTimes(n)).toEqual(Array.from({ length: n }, (_, i) => first + i));
      expect(text(q, n)).toBe(Array.from({ length: n }, (_, i) => `${first + i}\n`).join(''));
      q.drop(Math.min(n, 600));
      first += Math.min(n, 600);
    }
    q.drop(q.length);
    expect(q.length).toBe(0);
  });

  it('counts the memory its records hold: their bytes and a fixed share each, freed as they are dropped', () => {
    const q = new PendingQueue(encoder(100));
    expect(q.memoryBytes).toBe(0);
    for (let i = 0; i < 30_000; i++) q.push(i, batchOf(sample(i)));
    // 3 MB of records: slabs were filled and new ones begun, and none of it is lost from the count.
    expect(q.memoryBytes).toBe(30_000 * (100 + RECORD_OVERHEAD_BYTES));
    q.drop(12_345);
    expect(q.memoryBytes).toBe(17_655 * (100 + RECORD_OVERHEAD_BYTES));
    q.drop(q.length);
    expect(q.memoryBytes).toBe(0);
    expect(new PendingQueue(null).memoryBytes).toBe(0);
  });

  it('gives one chunk per slab a commit spans, and no record split between two', () => {
    const q = new PendingQueue(encoder(300_000));
    for (let i = 0; i < 10; i++) q.push(i, batchOf(sample(i)));
    const chunks = q.chunks(10);
    // 300 kB records: three to a 1 MiB slab, so ten records lie in four slabs.
    expect(chunks.length).toBe(4);
    const records = Buffer.concat(chunks)
      .toString()
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.replace(/\.+$/, '')));
    expect(records).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    q.drop(4);
    // Records 4 and 5 share a slab with the dropped 3; 6 starts the next one.
    expect(q.chunks(3).map((c) => c.length)).toEqual([600_000, 300_000]);
  });

  it('writes slabs again once no queued record uses them, never one still in use', () => {
    const q = new PendingQueue(encoder(300_000));
    const lines = (n: number) =>
      Buffer.concat(q.chunks(n))
        .toString()
        .split('\n')
        .filter(Boolean)
        .map((l) => Number(l.replace(/\.+$/, '')));
    for (let i = 0; i < 10; i++) q.push(i, batchOf(sample(i)));
    const firstSlabs = q.chunks(10).map((c) => c.buffer);
    // Three records to a slab: dropping 0–6 frees the first two slabs; the third still holds 7 and 8.
    q.drop(7);
    for (let i = 10; i < 20; i++) q.push(i, batchOf(sample(i)));
    expect(lines(q.length)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    const nowSlabs = new Set(q.chunks(q.length).map((c) => c.buffer));
    expect(nowSlabs.has(firstSlabs[0]!) || nowSlabs.has(firstSlabs[1]!)).toBe(true);
  });

  it('keeps the batches themselves for stores without a wire form, and counts events', () => {
    const q = new PendingQueue(null);
    const event = { machine: sample(0).machine, ts: 9, type: 'failure' as const };
    q.push(1, batchOf(sample(1), sample(2)));
    q.push(2, { samples: [], events: [event] });
    expect(q.countFor(2)).toBe(1);
    expect(q.countFor(3)).toBe(2);
    expect(q.counts(2)).toEqual({ samples: 2, readings: 2, events: 1 });
    expect(q.latestTimes(2)).toEqual([2, -Infinity]);
    expect(q.merged(2)).toEqual({ samples: [sample(1), sample(2)], events: [event] });
  });
});
