import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IngestBatch } from '../../src/core/types.js';
import { ByteSlabs } from '../../src/core/byte-slabs.js';
import { decodeBatches, encodeBatchInto } from '../../src/store/sample-codec.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { sensorStoreContract } from '../support/store-contract.js';
import { tempDir } from '../support/fixtures.js';

// The threaded store runs its database in a worker of compiled code (dist/, built by `npm test`), as in the daemon.
const threaded = async (file: string) => {
  const { SqliteWorkerStore } = (await import(
    path.resolve('dist/src/store/sqlite-worker-store.js')
  )) as typeof import('../../src/store/sqlite-worker-store.js');
  return new SqliteWorkerStore(file, { busyTimeoutMs: 200 });
};

sensorStoreContract('sqlite', () => new SqliteSensorStore(path.join(tempDir(), 'sensors.db')));
sensorStoreContract('sqlite in its own thread', () => threaded(path.join(tempDir(), 'sensors.db')));

describe('sqlite store', () => {
  it('says what a write changed: the same readings again change nothing, a new value counts', async () => {
    const store = new SqliteSensorStore(path.join(tempDir(), 'sensors.db'));
    await store.open();
    const m = { site: 's', line: 'l', machine: 'm' };
    const batch: IngestBatch = {
      samples: [
        { machine: m, ts: 1000, values: { x: 1, y: 2 } },
        { machine: m, ts: 2000, values: { x: 3 } },
      ],
      events: [],
    };
    expect(await store.write(batch)).toEqual({ samples: 2, readings: 3 });
    expect(await store.write(batch)).toEqual({ samples: 0, readings: 0 });
    expect(await store.write({ samples: [{ machine: m, ts: 1000, values: { x: 1, y: 5 } }], events: [] })).toEqual({
      samples: 1,
      readings: 1,
    });
    await store.close();
  });

  it('keeps data and ids across a reopen', async () => {
    const file = path.join(tempDir(), 'sensors.db');
    const a = new SqliteSensorStore(file);
    await a.open();
    const m = { site: 's', line: 'l', machine: 'm' };
    await a.write({ samples: [{ machine: m, ts: 1000, values: { x: 1 } }], events: [] });
    await a.close();
    const b = new SqliteSensorStore(file);
    await b.open();
    await b.write({ samples: [{ machine: m, ts: 2000, values: { x: 2, y: 3 } }], events: [] });
    expect(await b.queryReadings({ machine: 'm', from: 0, to: 10_000 })).toEqual([
      { machine: m, ts: 1000, values: { x: 1 } },
      { machine: m, ts: 2000, values: { x: 2, y: 3 } },
    ]);
    expect((await b.listMachines())[0]?.sensors).toEqual(['x', 'y']);
    await b.close();
  });

  it('follows a machine that moved to another line', async () => {
    const s = new SqliteSensorStore(path.join(tempDir(), 'sensors.db'));
    await s.open();
    await s.write({ samples: [{ machine: { site: 's', line: 'old', machine: 'm' }, ts: 1, values: { x: 1 } }], events: [] });
    await s.write({ samples: [{ machine: { site: 's', line: 'new', machine: 'm' }, ts: 2, values: { x: 1 } }], events: [] });
    expect((await s.listMachines()).map((i) => i.ref.line)).toEqual(['new']);
    await s.close();
  });

  it('a lock held by another process fails writes after the busy timeout, without blocking the event loop, and they go through once it is released', async () => {
    const file = path.join(tempDir(), 'sensors.db');
    const store = await threaded(file);
    await store.open();
    const m = { site: 's', line: 'l', machine: 'm' };
    const other = new Database(file);
    other.exec('BEGIN EXCLUSIVE');
    const order: string[] = [];
    const attempts: Array<Promise<unknown>> = [];
    for (let i = 0; i < 3; i++)
      attempts.push(
        store
          .write({ samples: [{ machine: m, ts: i, values: { x: i } }], events: [] })
          .catch((e: Error) => (order.push('write failed'), e)),
      );
    // Each write waits out its busy timeout in the database thread; a timer on this loop fires first.
    setImmediate(() => order.push('event loop turned'));
    const results = await Promise.all(attempts);
    expect(order).toEqual(['event loop turned', 'write failed', 'write failed', 'write failed']);
    expect(results.every((r) => r instanceof Error && /locked|busy/i.test(r.message))).toBe(true);
    other.exec('COMMIT');
    other.close();
    await store.write({ samples: [{ machine: m, ts: 9, values: { x: 9 } }], events: [] });
    expect(await store.queryReadings({ machine: 'm', from: 0, to: 100 })).toHaveLength(1);
    // The failed writes rolled back, and so did what they had put in the id caches: the machine and its sensor are written now.
    expect(await store.listMachines()).toEqual([{ ref: m, sensors: ['x'], lastTs: 9 }]);
    await store.close();
  });
});

describe('binary batch codec', () => {
  // Names as ingest validates them (which refuses __proto__).
  const name = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/).filter((n) => n !== '__proto__');
  const ref = fc.record({ site: name, line: name, machine: name });
  const batch = fc.record({
    samples: fc.array(
      fc.record({
        machine: ref,
        ts: fc.integer({ min: 0, max: 2 ** 45 }),
        values: fc.dictionary(name, fc.double({ noNaN: true, noDefaultInfinity: true }), { minKeys: 1, maxKeys: 20 }),
      }),
      { maxLength: 20 },
    ),
    events: fc.array(
      fc.record(
        {
          machine: ref,
          ts: fc.integer({ min: 0, max: 2 ** 45 }),
          type: fc.constantFrom('failure', 'maintenance', 'repair', 'note' as const),
          component: fc.string({ maxLength: 128 }),
          note: fc.string({ unit: 'grapheme', maxLength: 600 }),
        },
        { requiredKeys: ['machine', 'ts', 'type'] },
      ),
      { maxLength: 5 },
    ),
  });

  it('reads back exactly what it wrote, batches back to back across slabs', () => {
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 4 }), (batches) => {
        const slabs = new ByteSlabs();
        const chunks = batches.map((b) => {
          const n = encodeBatchInto(b as IngestBatch, slabs);
          return Buffer.from(slabs.buf.subarray(slabs.pos - n, slabs.pos));
        });
        const back = decodeBatches(Buffer.concat(chunks));
        expect(back.samples).toEqual(batches.flatMap((b) => b.samples));
        expect(back.events).toEqual(batches.flatMap((b) => b.events));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses bytes that are not a batch with a clear error, never a wrong batch', () => {
    const slabs = new ByteSlabs();
    const n = encodeBatchInto(
      { samples: [{ machine: { site: 's', line: 'l', machine: 'm' }, ts: 5, values: { a: 1, b: 2 } }], events: [] },
      slabs,
    );
    const bytes = Buffer.from(slabs.buf.subarray(slabs.pos - n, slabs.pos));
    for (let cut = 1; cut < bytes.length; cut++) expect(() => decodeBatches(bytes.subarray(0, cut))).toThrow(/ends inside a record/);
    expect(() => decodeBatches(Buffer.from([9, 0, 0]))).toThrow(/unknown record kind|ends inside/);
  });
});
