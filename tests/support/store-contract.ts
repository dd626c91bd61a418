import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MachineEvent } from '../../src/core/types.js';
import type { SensorStore } from '../../src/core/sensor-store.js';

const T0 = Date.parse('2026-03-01T00:00:00Z');
const A = { site: 'plant', line: 'l1', machine: 'pump-1' };
const B = { site: 'plant', line: 'l2', machine: 'fan-2' };

/** One behaviour for every SensorStore; each adapter runs this same suite. */
export function sensorStoreContract(name: string, make: () => SensorStore | Promise<SensorStore>): void {
  describe(`SensorStore contract: ${name}`, () => {
    let store: SensorStore;
    beforeEach(async () => {
      store = await make();
      await store.open();
    });
    afterEach(async () => {
      await store.close();
    });

    it('stores readings and queries a time range, with sensor selection and limit', async () => {
      await store.write({
        samples: [
          { machine: A, ts: T0, values: { temp: 40.5, vib: 0.1 } },
          { machine: A, ts: T0 + 1000, values: { temp: 41, vib: 0.2, amps: 3 } },
          { machine: A, ts: T0 + 2000, values: { temp: 42 } },
          { machine: B, ts: T0 + 1000, values: { temp: 20 } },
        ],
        events: [],
      });
      expect(await store.queryReadings({ machine: 'pump-1', from: T0, to: T0 + 2000 })).toEqual([
        { machine: A, ts: T0, values: { temp: 40.5, vib: 0.1 } },
        { machine: A, ts: T0 + 1000, values: { temp: 41, vib: 0.2, amps: 3 } },
      ]);
      expect(await store.queryReadings({ machine: 'pump-1', from: T0, to: T0 + 5000, sensors: ['vib'] })).toEqual([
        { machine: A, ts: T0, values: { vib: 0.1 } },
        { machine: A, ts: T0 + 1000, values: { vib: 0.2 } },
      ]);
      expect(await store.queryReadings({ machine: 'pump-1', from: T0, to: T0 + 5000, limit: 1 })).toHaveLength(1);
      expect(await store.queryReadings({ machine: 'nobody', from: T0, to: T0 + 5000 })).toEqual([]);
      expect(await store.queryReadings({ machine: 'pump-1', from: T0, to: T0 + 5000, sensors: ['unknown'] })).toEqual([]);
    });

    it('aggregates in the store: the mean of each sensor per bucket, buckets aligned to the epoch, empty ones left out', async () => {
      await store.write({
        samples: [
          { machine: A, ts: T0, values: { temp: 40, vib: 1 } },
          { machine: A, ts: T0 + 1000, values: { temp: 42 } },
          { machine: A, ts: T0 + 9000, values: { temp: 44, vib: 3 } },
          { machine: A, ts: T0 + 30_000, values: { temp: 50 } },
          { machine: B, ts: T0 + 1000, values: { temp: 20 } },
        ],
        events: [],
      });
      expect(await store.aggregateReadings({ machine: 'pump-1', from: T0, to: T0 + 60_000 }, 10_000)).toEqual([
        { machine: A, ts: T0, values: { temp: 42, vib: 2 } },
        { machine: A, ts: T0 + 30_000, values: { temp: 50 } },
      ]);
      // A range that starts inside a bucket: the bucket is still stamped with its aligned start.
      expect(await store.aggregateReadings({ machine: 'pump-1', from: T0 + 500, to: T0 + 20_000, sensors: ['vib'] }, 10_000)).toEqual([
        { machine: A, ts: T0, values: { vib: 3 } },
      ]);
      expect(await store.aggregateReadings({ machine: 'nobody', from: T0, to: T0 + 60_000 }, 10_000)).toEqual([]);
      expect(await store.aggregateReadings({ machine: 'pump-1', from: T0, to: T0 + 60_000, sensors: ['unknown'] }, 10_000)).toEqual([]);
    });

    it('is idempotent on (machine, sensor, ts): a rewrite overwrites, a partial write merges', async () => {
      const batch = { samples: [{ machine: A, ts: T0, values: { temp: 1, vib: 2 } }], events: [] };
      await store.write(batch);
      await store.write(batch);
      await store.write({ samples: [{ machine: A, ts: T0, values: { temp: 5 } }], events: [] });
      expect(await store.queryReadings({ machine: 'pump-1', from: T0 - 1, to: T0 + 1 })).toEqual([
        { machine: A, ts: T0, values: { temp: 5, vib: 2 } },
      ]);
    });

    it('lists machines with their sensors and latest time', async () => {
      await store.write({
        samples: [
          { machine: A, ts: T0, values: { temp: 1 } },
          { machine: A, ts: T0 + 5000, values: { vib: 1 } },
          { machine: B, ts: T0 + 100, values: { rpm: 1500 } },
        ],
        events: [],
      });
      const machines = await store.listMachines();
      expect(machines).toEqual([
        { ref: B, sensors: ['rpm'], lastTs: T0 + 100 },
        { ref: A, sensors: ['temp', 'vib'], lastTs: T0 + 5000 },
      ]);
    });

    it('stores events, idempotent on (machine, ts, type), filtered by machine, time and type', async () => {
      const events: MachineEvent[] = [
        { machine: A, ts: T0, type: 'failure', component: 'bearing', note: 'seized' },
        { machine: A, ts: T0, type: 'note' },
        { machine: A, ts: T0 + 60_000, type: 'repair' },
        { machine: B, ts: T0 + 30_000, type: 'maintenance' },
      ];
      await store.write({ samples: [], events });
      await store.write({ samples: [], events: [events[0]!] });
      expect(await store.queryEvents({})).toEqual([events[0], events[1], events[3], events[2]]);
      expect(await store.queryEvents({ machine: 'pump-1', types: ['failure', 'repair'] })).toEqual([events[0], events[2]]);
      expect(await store.queryEvents({ from: T0 + 1, to: T0 + 60_000 })).toEqual([events[3]]);
    });

    it('reports itself healthy', async () => {
      const h = await store.health();
      expect(h.ok).toBe(true);
      expect(h.latencyMs).toBeGreaterThanOrEqual(0);
    });
  });
}
