/**
 * A damaged disk loses only what is damaged: a garbled sensor database is reported in /readyz and
 * opened again once it is sound, a flipped byte in the journal costs its own record only, and a
 * damaged state database stops the start with its name.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { publishStream } from '../../bench/lib/publisher.js';
import { openVigilState } from '../../src/state.js';
import { startTestDaemon } from '../support/daemon.js';
import { tempDir } from '../support/fixtures.js';
import { waitUntil } from '../support/influx.js';

const SENSORS = 4;

describe('a damaged disk', () => {
  it('garbled sensors.db: readiness says why and data waits in the journal; a flipped journal byte then costs one message; a sound file is opened again', async () => {
    const dataDir = tempDir('vigil-damage-');
    const sensors = path.join(dataDir, 'sensors.db');
    writeFileSync(sensors, Buffer.alloc(64 * 1024, 0x41));
    const first = await startTestDaemon({ dataDir });
    try {
      await waitUntil(
        () => first.daemon.readiness().reasons.some((r) => r.includes('sensor store cannot be opened') && r.includes(sensors)),
        10_000,
        'readiness naming the file',
      );
      const stream = await publishStream({
        url: first.daemon.mqttUrl,
        machines: 10,
        count: 2000,
        rate: 0,
        sensors: SENSORS,
        qos: 1,
        startTs: Date.now() - 60_000,
      });
      expect(stream.acked).toBe(2000);
      await waitUntil(() => first.daemon.status().journal.depth === 2000, 10_000, 'all messages journalled');
      expect(first.daemon.status().store.readingsStored).toBe(0);
    } finally {
      await first.daemon.stop();
    }

    // The disk damages one byte in the middle of the journal while the daemon is down.
    const journal = path.join(dataDir, 'journal');
    const segment = path.join(
      journal,
      readdirSync(journal)
        .filter((f) => f.endsWith('.wal'))
        .sort()[0]!,
    );
    const bytes = readFileSync(segment);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    writeFileSync(segment, bytes);
    // And the operator replaces the garbled database (here: removes it; a restore would do the same).
    rmSync(sensors);

    const second = await startTestDaemon({ dataDir });
    try {
      const d = second.daemon;
      await waitUntil(() => d.status().journal.depth === 0, 30_000, 'journal committed');
      expect(d.status().journal).toMatchObject({ damagedRegions: 1, recordsLost: 1 });
      expect(d.readiness().reasons.filter((r) => r.includes('sensor store'))).toEqual([]);
      const db = new Database(sensors, { readonly: true });
      try {
        expect((db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n).toBe(1999 * SENSORS);
      } finally {
        db.close();
      }
      expect(readdirSync(path.join(journal, 'quarantine'))).toHaveLength(1);
    } finally {
      await second.daemon.stop();
    }
  });

  it('a damaged vigil.db stops `vigil start` with the file named, exit 1', () => {
    const dataDir = tempDir('vigil-damage-state-');
    const file = path.join(dataDir, 'vigil.db');
    const db = openVigilState(file);
    const insert = db.prepare("INSERT INTO energy_decisions (at, action, reason) VALUES (?, 'defer', ?)");
    for (let i = 0; i < 2000; i++) insert.run(i, 'x'.repeat(200));
    db.close();
    const bytes = readFileSync(file);
    bytes.fill(0x5a, bytes.length - 3 * 4096, bytes.length - 4096);
    writeFileSync(file, bytes);
    const r = spawnSync(process.execPath, [path.resolve('dist/src/cli.js'), 'start'], {
      encoding: 'utf8',
      env: { ...process.env, VIGIL_DATA_DIR: dataDir, VIGIL_HTTP_PORT: '0', VIGIL_MQTT_PORT: '0' },
      timeout: 30_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`VGL_STATE_DAMAGED: state database ${file} is damaged`);
  });
});
