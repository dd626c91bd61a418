import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { publishStream } from '../../bench/lib/publisher.js';
import { tempDir } from '../support/fixtures.js';
import { countInfluxReadings, waitForReady, waitUntil } from '../support/influx.js';
import { freePort } from '../../bench/lib/services.js';

const CLI = path.resolve('dist/src/cli.js');
const SENSORS = 14;

describe.each([
  { broker: 'Mosquitto', rate: 1000, count: 8000 },
  // The default setup: publishers on Vigil's own embedded broker, whose PUBACK must wait for the journal.
  { broker: 'the embedded broker', rate: 5000, count: 20_000 },
])('daemon killed with SIGKILL mid-stream, publishers on $broker', ({ broker, rate, count }) => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('keeps every acknowledged QoS 1 reading: journal replay plus broker redelivery', async () => {
    const dataDir = tempDir('vigil-kill-');
    const httpPort = await freePort();
    const embedded = broker !== 'Mosquitto';
    const mqttPort = await freePort();
    const mqttUrl = embedded ? `mqtt://127.0.0.1:${mqttPort}` : inject('mqttUrl');
    const database = `sigkill_${embedded ? 'embedded' : 'mosquitto'}_${Date.now()}`;
    const env = {
      ...process.env,
      VIGIL_DATA_DIR: dataDir,
      ...(embedded ? { VIGIL_MQTT_PORT: String(mqttPort), VIGIL_MQTT_ALLOW_ANONYMOUS: 'true' } : { VIGIL_MQTT_URL: mqttUrl }),
      VIGIL_MQTT_CLIENT_ID: `vigil-sigkill-${Date.now()}`,
      VIGIL_INFLUX_URL: inject('influxUrl'),
      VIGIL_INFLUX_DATABASE: database,
      VIGIL_HTTP_PORT: String(httpPort),
      VIGIL_LOG_LEVEL: 'warn',
    };
    const startDaemon = async () => {
      const child = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      children.push(child);
      await waitForReady(httpPort);
      return child;
    };

    const first = await startDaemon();
    // On the embedded broker the publisher loses its broker with the daemon: it reconnects and
    // sends again what was not acknowledged; what was acknowledged must already be journalled.
    const stream = publishStream({
      url: mqttUrl,
      machines: 40,
      count,
      rate,
      sensors: SENSORS,
      qos: 1,
      startTs: Date.now() - 3_600_000,
    });
    await new Promise((r) => setTimeout(r, 2000));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    // Up to a flush interval of acknowledged readings existed only in the journal: replay must bring them back.
    await new Promise((r) => setTimeout(r, 1500));
    const second = await startDaemon();

    const result = await stream;
    expect(result.acked).toBe(count);
    let stored = 0;
    await waitUntil(
      async () => (stored = await countInfluxReadings(inject('influxUrl'), database)) >= count * SENSORS,
      60_000,
      () => `all ${count * SENSORS} acknowledged readings stored (${stored} are)`,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(await countInfluxReadings(inject('influxUrl'), database)).toBe(count * SENSORS);

    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', r));
    expect(code).toBe(0);
    // A clean stop with everything committed leaves an empty journal.
    expect(readdirSync(path.join(dataDir, 'journal')).filter((f) => f.endsWith('.wal'))).toEqual([]);
  });
});
