/**
 * Faults a plant's gateway meets, each bounded in time: InfluxDB killed with SIGKILL, Mosquitto
 * restarted, the journal's disk cap reached while the store is down, a webhook receiver down. Each
 * checks exactly-once storage of every QoS 1 reading (or delivery) and a healthy daemon afterwards.
 * The daemon killed during a batch commit, a training run and a model save has its own files
 * (daemon-sigkill, chaos-training, learning).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { publishStream } from '../../bench/lib/publisher.js';
import { freePort, startInfluxd, startMosquitto, type ManagedService } from '../../bench/lib/services.js';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { countInfluxReadings, waitUntil } from '../support/influx.js';

const SENSORS = 14;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function daemonWith(overrides: Record<string, unknown>): Promise<{ daemon: Daemon; dataDir: string }> {
  const { daemon, config } = await startTestDaemon(overrides);
  cleanup.push(() => daemon.stop());
  await waitUntil(() => daemon.readiness().ready, 15_000, 'daemon ready');
  return { daemon, dataDir: config.dataDir };
}

async function ownInflux(): Promise<ManagedService> {
  const influx = await startInfluxd();
  cleanup.push(() => influx.dispose());
  return influx;
}

function sqliteReadings(dataDir: string): number {
  const db = new Database(path.join(dataDir, 'sensors.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('chaos', () => {
  it('InfluxDB killed with SIGKILL mid-stream and restarted: every reading stored exactly once', async () => {
    const influx = await ownInflux();
    const database = 'chaos_kill';
    const { daemon } = await daemonWith({
      mqtt: { url: inject('mqttUrl') },
      store: { kind: 'influx', influx: { url: influx.url, database, timeout: '2s' } },
      writer: { retryMax: '1s' },
    });
    const count = 5000;
    const stream = publishStream({
      url: inject('mqttUrl'),
      machines: 25,
      count,
      rate: 500,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 3_600_000,
    });
    await sleep(3000);
    await influx.stop({ kill: true });
    await waitUntil(() => daemon.status().store.state === 'down', 10_000, 'writer notices the outage');
    await sleep(3000);
    await influx.start();
    expect((await stream).acked).toBe(count);
    await waitUntil(async () => (await countInfluxReadings(influx.url, database)) >= count * SENSORS, 60_000, 'catch-up');
    await sleep(500);
    expect(await countInfluxReadings(influx.url, database)).toBe(count * SENSORS);
    expect(daemon.status().store.state).toBe('up');
    await waitUntil(() => daemon.status().journal.depth === 0, 10_000, 'the journal drained');
    expect(daemon.readiness().ready).toBe(true);
  });

  it('Mosquitto restarted: the persistent session resumes and what was published meanwhile arrives', async () => {
    const broker = await startMosquitto();
    cleanup.push(() => broker.dispose());
    const { daemon, dataDir } = await daemonWith({ mqtt: { url: broker.url, reconnectMin: '200ms', reconnectMax: '1s' } });
    const startTs = Date.now() - 3_600_000;
    const first = await publishStream({ url: broker.url, machines: 10, count: 2000, rate: 0, sensors: SENSORS, qos: 1, startTs });
    expect(first.acked).toBe(2000);
    await waitUntil(() => daemon.status().store.readingsStored >= 2000 * SENSORS, 20_000, 'first part stored');
    const connectsBefore = daemon.status().broker.connects;
    await broker.stop();
    await waitUntil(() => !daemon.status().broker.connected, 10_000, 'daemon sees the broker gone');
    await broker.start();
    // Published the moment the broker is back, likely before the daemon has reconnected: the broker
    // queues them in the daemon's persistent session.
    const second = await publishStream({
      url: broker.url,
      machines: 10,
      count: 2000,
      rate: 0,
      sensors: SENSORS,
      qos: 1,
      startTs: startTs + 10_000,
    });
    expect(second.acked).toBe(2000);
    await waitUntil(
      () => daemon.status().store.readingsStored >= 4000 * SENSORS && daemon.status().store.pendingSamples === 0,
      30_000,
      'second part stored',
    );
    expect(daemon.status().broker.connects).toBeGreaterThan(connectsBefore);
    await sleep(300);
    expect(sqliteReadings(dataDir)).toBe(4000 * SENSORS);
    expect(daemon.readiness().ready).toBe(true);
  });

  it('the journal reaches its disk cap while InfluxDB is down: backpressure, then recovery with nothing lost', async () => {
    const influx = await ownInflux();
    const database = 'chaos_cap';
    const { daemon } = await daemonWith({
      mqtt: { url: inject('mqttUrl') },
      store: { kind: 'influx', influx: { url: influx.url, database, timeout: '1s' } },
      writer: { retryMax: '1s' },
      journal: { maxBytes: '1MiB', segmentBytes: '256KiB' },
    });
    await influx.stop({ kill: true });
    await waitUntil(
      () => daemon.status().store.state === 'down' || daemon.status().store.commitFailures > 0,
      10_000,
      'store known down',
      100,
    ).catch(() => undefined);
    const count = 8000;
    const stream = publishStream({
      url: inject('mqttUrl'),
      machines: 20,
      count,
      rate: 0,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 3_600_000,
    });
    await waitUntil(() => daemon.status().journal.backpressure, 60_000, 'backpressure at the disk cap');
    const during = daemon.status();
    // The cap is checked before each append, so the message that reaches it may end past it: by one message at most.
    expect(during.journal.bytes).toBeLessThanOrEqual(during.journal.maxBytes + 4096);
    await influx.start();
    expect((await stream).acked).toBe(count);
    await waitUntil(async () => (await countInfluxReadings(influx.url, database)) >= count * SENSORS, 90_000, 'recovery');
    await sleep(500);
    expect(await countInfluxReadings(influx.url, database)).toBe(count * SENSORS);
    const after = daemon.status();
    expect(after.journal.backpressure).toBe(false);
    expect(after.journal.backpressureEpisodes).toBeGreaterThan(0);
    expect(daemon.readiness().ready).toBe(true);
  });

  it('a webhook receiver down for a while: the outbox delivers later, each delivery once', async () => {
    const port = await freePort();
    const { daemon } = await daemonWith({
      alerts: { ranges: [{ sensor: 'temp', max: 100 }] },
      notify: {
        webhooks: [{ name: 'ops', url: `http://127.0.0.1:${port}/hook`, secret: 'chaos-webhook-secret-0123', timeout: '1s' }],
        retryInitial: '200ms',
        retryMax: '1s',
        maxAttempts: 1000,
      },
    });
    const now = Date.now();
    const { default: mqtt } = await import('mqtt');
    const client = await mqtt.connectAsync(daemon.mqttUrl);
    await client.publishAsync('vigil/p1/l1/hot-1/telemetry', JSON.stringify({ ts: now, values: { temp: 150 } }), { qos: 1 });
    await client.endAsync();
    const deliveries = async () =>
      (await (await fetch(`${daemon.httpUrl}/api/v1/notifications?limit=50`)).json()) as {
        items: Array<{ state: string; attempts: number; channel: string }>;
      };
    await waitUntil(
      async () => (await deliveries()).items.some((d) => d.channel === 'webhook:ops' && d.attempts >= 3),
      20_000,
      'failed attempts while the receiver is down',
    );
    await sleep(5000);

    const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
    await waitUntil(
      async () => (await deliveries()).items.filter((d) => d.channel === 'webhook:ops').every((d) => d.state === 'delivered'),
      20_000,
      'delivered after the receiver is back',
    );
    await sleep(3000);
    const ids = received.map((r) => r.headers['x-vigil-delivery']);
    expect(ids.length).toBeGreaterThan(0);
    expect(new Set(ids).size).toBe(ids.length);
    expect(received.map((r) => JSON.parse(r.body).alert.machine.machine)).toContain('hot-1');
    expect(daemon.readiness().ready).toBe(true);
  });
});
