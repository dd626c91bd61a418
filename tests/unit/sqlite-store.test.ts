import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { sensorStoreContract } from '../support/store-contract.js';
import { tempDir } from '../support/fixtures.js';

sensorStoreContract('sqlite', () => new SqliteSensorStore(path.join(tempDir(), 'sensors.db')));

describe('sqlite store', () => {
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
});
