import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { publishStream } from '../../bench/lib/publisher.js';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { countInfluxReadings, waitUntil } from '../support/influx.js';
import { startInfluxd, type ManagedService } from '../../bench/lib/services.js';

const SENSORS = 14;
const RATE = 200; // msgs/s
const SECONDS = 50;

// This test stops its own InfluxDB for 30 s in the middle of a stream; the shared one stays up.
describe('InfluxDB outage', () => {
  let influx: ManagedService;
  let daemon: Daemon;
  beforeAll(async () => {
    influx = await startInfluxd();
  });
  afterAll(async () => {
    await daemon?.stop();
    await influx?.dispose();
  });

  it('stores every reading exactly once after InfluxDB is down for 30 s mid-stream', async () => {
    const database = 'outage';
    ({ daemon } = await startTestDaemon({
      mqtt: { url: inject('mqttUrl') },
      store: { kind: 'influx', influx: { url: influx.url, database, timeout: '2s' } },
      writer: { retryMax: '2s' },
    }));
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');

    const count = RATE * SECONDS;
    const stream = publishStream({
      url: inject('mqttUrl'),
      machines: 25,
      count,
      rate: RATE,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 3_600_000,
    });

    await new Promise((r) => setTimeout(r, 10_000));
    await influx.stop();
    await waitUntil(() => daemon.status().store.state === 'down', 10_000, 'writer notices the outage');
    const atDown = daemon.status().ingest.messagesAccepted;
    await new Promise((r) => setTimeout(r, 30_000));
    const during = daemon.status();
    expect(during.journal.depth).toBeGreaterThan(0);
    // Everything accepted while the store is down waits for it (however fast a loaded machine published).
    expect(during.ingest.messagesAccepted).toBeGreaterThan(atDown);
    expect(during.store.pendingSamples).toBeGreaterThanOrEqual(during.ingest.messagesAccepted - atDown);
    expect(daemon.readiness().reasons.join()).toMatch(/sensor store unavailable/);
    await influx.start();

    const result = await stream;
    expect(result.acked).toBe(count);
    await waitUntil(async () => (await countInfluxReadings(influx.url, database)) >= count * SENSORS, 60_000, 'catch-up after the outage');
    await new Promise((r) => setTimeout(r, 500));
    expect(await countInfluxReadings(influx.url, database)).toBe(count * SENSORS);
    await waitUntil(() => daemon.status().journal.depth === 0, 10_000, 'the journal drained');
    const after = daemon.status();
    expect(after.store.state).toBe('up');
    expect(after.store.commitFailures).toBeGreaterThan(0);
    expect(after.journal.depth).toBe(0);
    expect(after.store.readingsStored).toBe(count * SENSORS);
  });
});
