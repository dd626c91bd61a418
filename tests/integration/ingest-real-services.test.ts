import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { publishStream } from '../../bench/lib/publisher.js';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { countInfluxReadings, waitUntil } from '../support/influx.js';
import { binary } from '../../bench/lib/services.js';
import mqtt from 'mqtt';
import { subscribedSubscriber } from '../support/subscriber.js';

const SENSORS = 14;
let running: Daemon | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

function mosquittoPub(url: string, topic: string, message: string): void {
  const u = new URL(url);
  execFileSync(binary('mosquitto_pub'), ['-h', u.hostname, '-p', u.port, '-q', '1', '-t', topic, '-m', message]);
}

// The whole path both ways: Vigil's own PUBLISH path and JSON reader, and mqtt.js's and JSON.parse.
describe.each(['auto', 'off'] as const)('ingest through real services, ingest.fastPath %s', (fastPath) => {
  it('Mosquitto → InfluxDB: every QoS 1 reading stored, counted exactly; bad messages counted by reason', async () => {
    const influxUrl = inject('influxUrl');
    const mqttUrl = inject('mqttUrl');
    const database = `ingest_${fastPath}_${Date.now()}`;
    const { daemon } = await startTestDaemon({
      mqtt: { url: mqttUrl },
      store: { kind: 'influx', influx: { url: influxUrl, database } },
      ingest: { fastPath },
    });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');

    const now = Date.now();
    // A real command-line client too: JSON, an array and line protocol.
    mosquittoPub(mqttUrl, 'vigil/p1/l1/cli-1/telemetry', JSON.stringify({ ts: now, values: { temp: 40, vib: 0.5 } }));
    mosquittoPub(
      mqttUrl,
      'vigil/p1/l1/cli-1/telemetry',
      JSON.stringify([
        { ts: now + 1, values: { temp: 41 } },
        { ts: now + 2, values: { temp: 'bad' } },
      ]),
    );
    mosquittoPub(mqttUrl, 'vigil/p1/l1/cli-2/telemetry', `telemetry temp=39.5,amps=3i ${(now + 3) * 1e6}`);
    mosquittoPub(mqttUrl, 'vigil/p1/l1/cli-1/telemetry', 'not json and not line protocol either');
    mosquittoPub(mqttUrl, 'vigil/p1/l1/cli-1/events', JSON.stringify({ ts: now, type: 'maintenance', component: 'filter' }));

    // The benches' lean publisher (raw MQTT packets); the embedded-broker test below publishes through mqtt.js.
    const stream = await publishStream({
      url: mqttUrl,
      machines: 50,
      count: 3000,
      rate: 0,
      sensors: SENSORS,
      qos: 1,
      startTs: now - 3_600_000,
      client: 'raw',
    });
    expect(stream.acked).toBe(3000);
    const expected = 3000 * SENSORS + 2 + 1 + 2;
    await waitUntil(async () => (await countInfluxReadings(influxUrl, database)) >= expected, 60_000, 'all readings in InfluxDB');
    // Let anything extra (duplicates would be impossible in InfluxDB, spurious points not) surface.
    await new Promise((r) => setTimeout(r, 500));
    expect(await countInfluxReadings(influxUrl, database)).toBe(expected);

    // The journal lets go of a batch after the store answers, which can be a moment after the points are queryable.
    await waitUntil(() => daemon.status().journal.depth === 0, 10_000, 'the journal drained');
    const status = daemon.status();
    expect(status.ingest.readingsAccepted).toBe(expected);
    expect(status.store.readingsStored).toBe(expected);
    expect(status.ingest.rejectedByReason).toEqual({ non_numeric_value: 1, bad_line_protocol: 1 });
    expect(status.store.eventsStored).toBe(1);
    const events = await daemon.stages.store.queryEvents({ machine: 'cli-1' });
    expect(events).toEqual([{ machine: { site: 'p1', line: 'l1', machine: 'cli-1' }, ts: now, type: 'maintenance', component: 'filter' }]);
    expect(status.journal.depth).toBe(0);
    // Every message came through the path asked for, none left unacknowledged.
    expect(status.broker.fastPathMessages).toBe(fastPath === 'auto' ? 3000 + 5 : 0);
    expect(status.broker.unacknowledged).toBe(0);

    // The status endpoint over real HTTP.
    const res = await fetch(`${daemon.httpUrl}/api/v1/status`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { broker: { mode: string; connected: boolean } };
    expect(body.broker).toMatchObject({ mode: 'external', connected: true });
  });

  it('a batch InfluxDB refuses for good (field type conflict) is recorded, and ingest goes on', async () => {
    const influxUrl = inject('influxUrl');
    const database = `conflict_${fastPath}_${Date.now()}`;
    const now = Date.now();
    // Another writer made "temp" an integer field in this database.
    await fetch(`${influxUrl}/query?q=${encodeURIComponent(`CREATE DATABASE ${database}`)}`, { method: 'POST' });
    const pre = await fetch(`${influxUrl}/write?db=${database}&precision=ms`, {
      method: 'POST',
      body: `telemetry,site=p1,line=l1,machine=m1 temp=5i ${now - 10_000}`,
    });
    expect(pre.status).toBe(204);
    const { daemon } = await startTestDaemon({
      mqtt: { url: inject('mqttUrl') },
      store: { kind: 'influx', influx: { url: influxUrl, database } },
      ingest: { fastPath },
    });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');
    mosquittoPub(inject('mqttUrl'), 'vigil/p1/l1/m1/telemetry', JSON.stringify({ ts: now, values: { temp: 41.5 } }));
    await waitUntil(() => daemon.status().store.storeRejections === 1, 10_000, 'the refusal to be recorded');
    expect(daemon.status().store.lastStoreRejection).toMatch(/field type conflict/);
    mosquittoPub(inject('mqttUrl'), 'vigil/p1/l1/m1/telemetry', JSON.stringify({ ts: now + 1, values: { vib: 0.3 } }));
    await waitUntil(async () => (await countInfluxReadings(influxUrl, database)) === 2, 10_000, 'the next reading stored');
    // The journal lets go of a batch after InfluxDB answers, which can be a moment after the point is queryable.
    await waitUntil(() => daemon.status().journal.depth === 0, 10_000, 'the journal drained');
    expect(daemon.status().store.state).toBe('up');
  });

  it('embedded broker → SQLite: every reading stored, counted exactly', async () => {
    const { daemon, config } = await startTestDaemon({ ingest: { fastPath } });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');
    const stream = await publishStream({
      url: daemon.mqttUrl,
      machines: 20,
      count: 2000,
      rate: 0,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 60_000,
    });
    expect(stream.acked).toBe(2000);
    await waitUntil(() => daemon.status().store.readingsStored >= 2000 * SENSORS, 30_000, 'all readings committed');
    const db = new Database(path.join(config.dataDir, 'sensors.db'), { readonly: true });
    try {
      expect((db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n).toBe(2000 * SENSORS);
      expect((db.prepare('SELECT count(*) AS n FROM machines').get() as { n: number }).n).toBe(20);
    } finally {
      db.close();
    }
    const machines = await daemon.stages.store.listMachines();
    expect(machines).toHaveLength(20);
    expect(machines[0]?.sensors).toHaveLength(SENSORS);
    // The embedded broker hands them over in-process (acknowledged once journalled), not over a socket.
    expect(daemon.status().broker.embeddedIntake?.messages).toBe(2000);
    expect(daemon.status().broker.fastPathMessages).toBe(0);
  });
});

describe('ingest through real services', () => {
  it("a QoS 2 subscription on Mosquitto keeps mqtt.js's path and takes each message of a 0/1/2 mix exactly once", async () => {
    const mqttUrl = inject('mqttUrl');
    const seen: number[] = [];
    const subscriber = await subscribedSubscriber(mqttUrl, `qos2-${Date.now()}`, (ts) => void seen.push(ts), {
      qos: 2,
      ackBatch: { begin: () => undefined, end: () => undefined },
    });
    try {
      const publisher = await mqtt.connectAsync(mqttUrl, { clientId: `qos2-publisher-${Date.now()}` });
      const now = Date.now();
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          publisher.publishAsync('vigil/p/l/qos2/telemetry', JSON.stringify({ ts: now - 1000 + i, values: { a: i } }), {
            qos: (i % 3) as 0 | 1 | 2,
          }),
        ),
      );
      await publisher.endAsync();
      await waitUntil(() => seen.length >= 300, 10_000, 'all 300 messages');
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => now - 1000 + i));
      expect(subscriber.stats.fastPathMessages).toBe(0);
      expect(subscriber.stats.unacknowledged).toBe(0);
    } finally {
      await subscriber.stop();
    }
  });
});
