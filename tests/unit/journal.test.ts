import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { Journal, type JournalOptions } from '../../src/journal/journal.js';
import type { IngestBatch } from '../../src/core/types.js';
import { batchOf, sample, tempDir } from '../support/fixtures.js';

const log = silentLogger();
const open = (dir: string, o: Partial<JournalOptions> = {}) =>
  Journal.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 16, fsyncIntervalMs: 0, ...o }, systemClock, log);
const readAll = (j: Journal) => j.read(j.committed + 1, Infinity);
const segments = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.wal'))
    .sort();

describe('journal', () => {
  it('replays every record after a crash (no close), events included', () => {
    const dir = tempDir();
    const j = open(dir);
    const batches = [
      batchOf(sample(1000), sample(1001)),
      { samples: [], events: [{ machine: sample(0).machine, ts: 2000, type: 'failure' as const, component: 'bearing' }] },
      batchOf(sample(3000, { x: 1.5, y: -2 })),
    ];
    expect(batches.map((b) => j.append(b))).toEqual([1, 2, 3]);
    // Simulated kill: the instance is dropped without close().
    const after = open(dir);
    expect(readAll(after)).toEqual(batches.map((batch, i) => ({ seq: i + 1, batch })));
    expect(after.stats.depth).toBe(3);
    expect(after.append(batchOf(sample(4000)))).toBe(4);
  });

  it('with deferred writes, records reach the file only at flushPending, in order, one write for all', () => {
    const dir = tempDir();
    const j = open(dir, { fsyncIntervalMs: 100 });
    j.deferWrites = true;
    const batches = [batchOf(sample(1)), batchOf(sample(2)), batchOf(sample(3))];
    batches.forEach((b) => j.append(b));
    // A kill now loses them, so nothing may have acknowledged them yet.
    const size = () => segments(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);
    // Nothing but the new segment's magic.
    expect(size()).toBe(8);
    j.deferWrites = false;
    j.flushPending();
    expect(size()).toBeGreaterThan(8);
    expect(readAll(j).map((r) => r.batch)).toEqual(batches);
    // An immediate append after deferred ones keeps the order; read() flushes what is pending.
    j.deferWrites = true;
    j.append(batchOf(sample(4)));
    j.deferWrites = false;
    j.append(batchOf(sample(5)));
    expect(readAll(j).map((r) => r.batch.samples[0]!.ts)).toEqual([1, 2, 3, 4, 5]);
  });

  it('cuts off a record cut short by a crash (never acknowledged) and counts it, without calling it a loss', () => {
    const dir = tempDir();
    const j = open(dir);
    j.append(batchOf(sample(1)));
    j.append(batchOf(sample(2)));
    const seg = path.join(dir, segments(dir)[0]!);
    const goodSize = statSync(seg).size;
    const otherDir = tempDir();
    open(otherDir).append(batchOf(sample(3)));
    const whole = readFileSync(path.join(otherDir, segments(otherDir)[0]!));
    for (const cut of [3, 12, 25]) {
      appendFileSync(seg, whole.subarray(8, 8 + cut)); // the first bytes of a record: the process died mid-write
      const after = open(dir);
      expect(readAll(after).map((r) => r.batch.samples[0]!.ts)).toEqual([1, 2]);
      expect(after.stats).toMatchObject({ corruptRecords: 1, damagedRegions: 0, recordsLost: 0 });
      expect(statSync(seg).size).toBe(goodSize);
    }
  });

  it('a flipped byte in the middle of a segment loses only its record: reading resumes at the next valid one, the bytes are quarantined', () => {
    const dir = tempDir();
    const j = open(dir, { segmentBytes: 64 << 20, maxBytes: 256 << 20, fsyncIntervalMs: 60_000 });
    for (let i = 0; i < 10_000; i++) j.append(batchOf(sample(i, { a: i, b: i / 2 })));
    j.close();
    const seg = path.join(dir, segments(dir)[0]!);
    const buf = readFileSync(seg);
    const middle = Math.floor(buf.length / 2);
    buf[middle]! ^= 0x5a;
    writeFileSync(seg, buf);
    const after = open(dir);
    const ts = readAll(after).map((r) => r.batch.samples[0]!.ts);
    expect(ts).toHaveLength(9_999);
    const missing = Array.from({ length: 10_000 }, (_, i) => i).filter((i) => !ts.includes(i));
    expect(missing).toHaveLength(1);
    expect(after.stats).toMatchObject({ damagedRegions: 1, recordsLost: 1 });
    expect(after.stats.bytesSkipped).toBeGreaterThan(20);
    const quarantined = readdirSync(path.join(dir, 'quarantine'));
    expect(quarantined).toHaveLength(1);
    expect(readFileSync(path.join(dir, 'quarantine', quarantined[0]!)).length).toBe(after.stats.bytesSkipped);
    // Rewritten without the damage: the next start finds a clean segment, numbered on from the same records.
    const again = open(dir);
    expect(again.stats).toMatchObject({ damagedRegions: 0, corruptRecords: 0 });
    expect(readAll(again)).toHaveLength(9_999);
  });

  it('damage spanning several records counts each record lost, from the seqs around it', () => {
    const dir = tempDir();
    const j = open(dir);
    for (let i = 0; i < 50; i++) j.append(batchOf(sample(i)));
    const seg = path.join(dir, segments(dir)[0]!);
    const buf = readFileSync(seg);
    const third = buf.indexOf(Buffer.from('VGLJ', 'latin1'), 8 + 1) + 1;
    // Overwrite from inside record 2 over records 3 to 5, up to just before record 6.
    const sixth = [...Array(6)].reduce((at: number) => buf.indexOf(Buffer.from('VGLJ', 'latin1'), at + 1), 8 - 1);
    buf.fill(0xee, third, sixth - 1);
    writeFileSync(seg, buf);
    const after = open(dir);
    expect(readAll(after).map((r) => r.batch.samples[0]!.ts)).toEqual([0, ...Array.from({ length: 45 }, (_, i) => i + 5)]);
    expect(after.stats).toMatchObject({ damagedRegions: 1, recordsLost: 4 });
  });

  it('damage to the end of a segment is quarantined and counted as at least one record', () => {
    const dir = tempDir();
    const j = open(dir);
    j.append(batchOf(sample(1)));
    j.append(batchOf(sample(2)));
    const seg = path.join(dir, segments(dir)[0]!);
    appendFileSync(seg, Buffer.from('garbage that is no record at all'));
    const after = open(dir);
    expect(readAll(after).map((r) => r.batch.samples[0]!.ts)).toEqual([1, 2]);
    expect(after.stats).toMatchObject({ damagedRegions: 1, recordsLost: 1 });
    expect(readdirSync(path.join(dir, 'quarantine'))).toHaveLength(1);
  });

  it('reads segments of the earlier format (no magic), and appends after them in the current one', () => {
    const dir = tempDir();
    const body = (b: IngestBatch) =>
      Buffer.from(JSON.stringify({ s: b.samples.map((x) => [x.machine.site, x.machine.line, x.machine.machine, x.ts, x.values]) }));
    const v1 = Buffer.concat(
      [batchOf(sample(1)), batchOf(sample(2))].flatMap((b) => {
        const data = body(b);
        const header = Buffer.alloc(8);
        header.writeUInt32LE(data.length, 0);
        header.writeUInt32LE(crc32(data), 4);
        return [header, data];
      }),
    );
    writeFileSync(path.join(dir, 'seg-0000000000000001.wal'), v1);
    const j = open(dir);
    expect(readAll(j).map((r) => r.batch.samples[0]!.ts)).toEqual([1, 2]);
    expect(j.append(batchOf(sample(3)))).toBe(3);
    expect(readAll(open(dir)).map((r) => r.batch.samples[0]!.ts)).toEqual([1, 2, 3]);
  });

  it('rolls segments and deletes only fully committed, closed ones', () => {
    const dir = tempDir();
    const j = open(dir, { segmentBytes: 150 });
    for (let i = 0; i < 20; i++) j.append(batchOf(sample(1000 + i)));
    const before = segments(dir).length;
    expect(before).toBeGreaterThan(3);
    j.commit(10);
    expect(j.stats.depth).toBe(10);
    const remaining = open(dir); // a second reader sees what survives on disk
    const seqs = readAll(remaining).map((r) => r.seq);
    expect(seqs[seqs.length - 1]).toBe(20);
    expect(seqs[0]).toBeLessThanOrEqual(11);
    expect(seqs[0]).toBeGreaterThan(1);
    j.commit(20);
    j.close();
    expect(segments(dir)).toEqual([]);
  });

  it('keeps uncommitted records across a clean close', () => {
    const dir = tempDir();
    const j = open(dir);
    j.append(batchOf(sample(1)));
    j.append(batchOf(sample(2)));
    j.commit(1);
    j.close();
    const after = open(dir);
    // The segment holds both; replaying the committed one again is harmless (writes are idempotent).
    expect(readAll(after).map((r) => r.seq)).toContain(2);
  });

  it('reports full at its disk cap and frees space on commit', () => {
    const dir = tempDir();
    const j = open(dir, { maxBytes: 600, segmentBytes: 200 });
    let n = 0;
    while (!j.isFull()) {
      j.append(batchOf(sample(1000 + n)));
      n++;
      expect(n).toBeLessThan(100);
    }
    expect(j.stats.bytes).toBeGreaterThanOrEqual(600);
    j.commit(n);
    expect(j.isFull()).toBe(false);
  });

  it('numbers records after the ones left from the last run', () => {
    const dir = tempDir();
    const a = open(dir);
    a.append(batchOf(sample(1)));
    a.append(batchOf(sample(2)));
    const b = open(dir);
    expect(b.append(batchOf(sample(3)))).toBe(3);
    expect(readAll(b).map((r) => r.seq)).toEqual([1, 2, 3]);
  });

  it('reads back by seq in bounded chunks, across segments and from the growing active one', () => {
    const dir = tempDir();
    const j = open(dir, { segmentBytes: 200 });
    for (let i = 1; i <= 10; i++) j.append(batchOf(sample(i, { a: i, b: i })));
    const first = j.read(1, 3);
    expect(first.map((r) => r.seq)).toEqual([1, 2, 3]);
    const rest = j.read(4, 100);
    expect(rest.map((r) => r.batch.samples[0]!.ts)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    j.append(batchOf(sample(11)));
    expect(j.read(11, 100).map((r) => r.seq)).toEqual([11]);
    expect(j.read(12, 100)).toEqual([]);
    // A chunk always holds at least one record, however small the limit.
    expect(j.read(5, 0).map((r) => r.seq)).toEqual([5]);
  });

  it('reads a segment of several megabytes back in order while it is still being appended to', () => {
    const dir = tempDir();
    // Ordering, not durability: no fsync per append (that is the next test), so disk speed does not matter.
    const j = open(dir, { segmentBytes: 64 << 20, maxBytes: 256 << 20, fsyncIntervalMs: 60_000 });
    // Records of uneven size, so that many straddle the edges of the read windows.
    const values = (i: number) => Object.fromEntries(Array.from({ length: 5 + (i % 37) }, (_, k) => [`sensor_${k}`, i + k / 8]));
    const read: number[] = [];
    let next = 1;
    for (let i = 0; i < 12_000; i++) {
      j.append(batchOf(sample(i, values(i))));
      if (i % 2500 === 2499)
        for (const r of j.read(next, 1000)) {
          read.push(r.batch.samples[0]!.ts);
          next = r.seq + 1;
        }
    }
    for (const r of j.read(next, Infinity)) read.push(r.batch.samples[0]!.ts);
    expect(j.stats.bytes).toBeGreaterThan(3 << 20);
    expect(read).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
    expect(j.read(5000, 1).map((r) => r.batch.samples[0]!.values)).toEqual([values(4999)]);
  });

  it('with fsyncInterval 0, every append is synced before it returns', () => {
    const j = open(tempDir(), { fsyncIntervalMs: 0 });
    for (let i = 0; i < 5; i++) j.append(batchOf(sample(i)));
    expect(j.stats.fsyncs).toBe(5);
  });

  describe('messages journalled as they arrived', () => {
    const M = sample(0).machine;
    // A stand-in for the ingest decoder: "ts:value" payloads, anything else refused.
    const decodeMessage = (topic: string, payload: Uint8Array, receivedAt: number): IngestBatch => {
      const [ts, value] = Buffer.from(payload).toString().split(':').map(Number);
      if (!Number.isFinite(ts) || !Number.isFinite(value)) return { samples: [], events: [] };
      return batchOf(sample(ts!, { [topic.split('/').pop()!]: value! + receivedAt }, M));
    };
    const message = (topic: string, text: string, receivedAt: number) => ({ topic, payload: Buffer.from(text), receivedAt });

    it('stores the payload unchanged and reads it back through the decoder, with its arrival time', () => {
      const dir = tempDir();
      const j = open(dir, { decodeMessage });
      const m = message('plant/m1/temp', '1000:20.5', 7);
      j.append(decodeMessage(m.topic, m.payload, m.receivedAt), m);
      // Batches without a message (events from the API) keep the batch form, in the same journal.
      j.append({ samples: [], events: [{ machine: M, ts: 1500, type: 'repair' }] });
      j.append(batchOf(sample(2000)), message('plant/m1/ünïcode', '2000:1', 0));
      const raw = readFileSync(path.join(dir, segments(dir)[0]!));
      expect(raw.includes(Buffer.from('1000:20.5'))).toBe(true);
      const back = readAll(open(dir, { decodeMessage }));
      expect(back.map((r) => r.batch)).toEqual([
        batchOf(sample(1000, { temp: 27.5 }, M)),
        { samples: [], events: [{ machine: M, ts: 1500, type: 'repair' }] },
        batchOf(sample(2000, { ünïcode: 1 }, M)),
      ]);
    });

    it('counts a message that decodes differently now and stores what it decodes to', () => {
      const dir = tempDir();
      const j = open(dir, { decodeMessage });
      // Accepted at arrival (say, before a configuration change); refused by the decoder now.
      j.append(batchOf(sample(1)), message('plant/m1/temp', 'no longer valid', 0));
      const again = open(dir, { decodeMessage });
      expect(readAll(again).map((r) => r.batch)).toEqual([{ samples: [], events: [] }]);
      expect(again.stats.redecodeMismatches).toBe(1);
    });

    it('counts every mismatch but logs them at 1, 10, 100…, so a configuration change does not flood the log', () => {
      const dir = tempDir();
      const j = open(dir, { decodeMessage });
      for (let i = 0; i < 120; i++) j.append(batchOf(sample(i)), message('plant/m1/temp', 'no longer valid', 0));
      const lines: string[] = [];
      const logged = Journal.open(
        { dir, maxBytes: 1 << 20, segmentBytes: 1 << 16, fsyncIntervalMs: 0, decodeMessage },
        systemClock,
        pino({ level: 'warn' }, { write: (l: string) => lines.push(l) }),
      );
      expect(readAll(logged)).toHaveLength(120);
      expect(logged.stats.redecodeMismatches).toBe(120);
      expect(lines.map((l) => (JSON.parse(l) as { mismatches: number }).mismatches)).toEqual([1, 10, 100]);
    });

    it('without a decoder, writes the batch form; opened without one, message records are counted as unreadable, not thrown', () => {
      const dir = tempDir();
      open(dir).append(batchOf(sample(5)), message('plant/m1/temp', '5:1', 0));
      expect(readAll(open(dir)).map((r) => r.batch)).toEqual([batchOf(sample(5))]);
      const withMessages = tempDir();
      const j = open(withMessages, { decodeMessage });
      j.append(batchOf(sample(6)), message('plant/m1/temp', '6:1', 0));
      j.append(batchOf(sample(7)));
      const blind = open(withMessages);
      expect(readAll(blind).map((r) => r.batch)).toEqual([{ samples: [], events: [] }, batchOf(sample(7))]);
      expect(blind.stats.corruptRecords).toBe(1);
    });

    it('checksums head and payload together: a changed payload byte cuts the record off at start-up', () => {
      const dir = tempDir();
      const j = open(dir, { decodeMessage });
      j.append(batchOf(sample(1)), message('plant/m1/temp', '1:1', 0));
      j.append(batchOf(sample(2)), message('plant/m1/temp', '2:2', 0));
      const file = path.join(dir, segments(dir)[0]!);
      const bytes = readFileSync(file);
      bytes[bytes.lastIndexOf(Buffer.from('2:2'))] = '9'.charCodeAt(0);
      writeFileSync(file, bytes);
      const after = open(dir, { decodeMessage });
      expect(readAll(after).map((r) => r.seq)).toEqual([1]);
      expect(after.stats.corruptRecords).toBe(1);
    });
  });
});
