/**
 * Sparkplug B through real Mosquitto, as an edge node would send it: encoded with Eclipse Tahu's
 * own codec, births, alias-only data, a seq gap, a death. Counts are checked in the store itself.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { decodePayload } from 'sparkplug-payload/lib/sparkplugbpayload.js';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { countInfluxReadings, waitUntil } from '../support/influx.js';
import { TestEdgeNode } from '../support/sparkplug.js';

let running: Daemon | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

describe.each(['sqlite', 'influx'] as const)('Sparkplug B ingest into %s', (store) => {
  it('births, alias-only data, a seq gap and a death: exact counts, rebirth requests seen on the broker, machines offline', async () => {
    const mqttUrl = inject('mqttUrl');
    const influxUrl = inject('influxUrl');
    const group = `plant${Date.now() % 100_000}${store}`;
    const database = `sparkplug_${Date.now()}`;
    const { daemon, config } = await startTestDaemon({
      mqtt: { url: mqttUrl, sparkplug: { enabled: true, groups: [group], stripPrefixes: ['Sensors/'], rebirthMinInterval: 0 } },
      alerts: { checkInterval: '200ms' },
      ...(store === 'influx' ? { store: { kind: 'influx', influx: { url: influxUrl, database } } } : {}),
    });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready && daemon.status().broker.subscribed, 10_000, 'daemon subscribed');

    // What Vigil sends to edge nodes, as a SCADA engineer would watch it.
    const watcher = await mqtt.connectAsync(mqttUrl, { clientId: `sp-watch-${Date.now()}` });
    const commands: Array<{ topic: string; metrics: Array<{ name?: string | null; value: unknown }> }> = [];
    watcher.on('message', (topic, payload) => commands.push({ topic, metrics: decodePayload(payload).metrics as never }));
    await watcher.subscribeAsync(`spBv1.0/${group}/NCMD/#`, { qos: 1 });

    const edge = new TestEdgeNode(group, 'edge1');
    const publisher = await mqtt.connectAsync(mqttUrl, {
      clientId: `sp-edge-${Date.now()}`,
      will: { topic: edge.topic('NDEATH'), payload: Buffer.from(edge.ndeath()[1]), qos: 1, retain: false },
    });
    const send = async ([topic, payload]: [string, Uint8Array]) => {
      await publisher.publishAsync(topic, Buffer.from(payload), { qos: 1 });
    };
    const t0 = Date.now() - 60_000;
    try {
      // DATA before any BIRTH: aliases unknown → refused, and a rebirth is requested.
      await send(edge.ndata(t0, [{ alias: 1, type: 'Int64', value: 1 }]));
      await waitUntil(() => commands.length >= 1, 10_000, 'a rebirth request');
      expect(commands[0]).toEqual({
        topic: `spBv1.0/${group}/NCMD/edge1`,
        metrics: [expect.objectContaining({ name: 'Node Control/Rebirth', value: true })],
      });

      await send(edge.nbirth(t0, [{ name: 'Uptime', alias: 1, type: 'Int64', value: 100 }]));
      await send(
        edge.dbirth('press-1', t0, [
          {
            name: 'Sensors/Temperature',
            alias: 10,
            type: 'Float',
            value: 20,
            properties: {
              engUnit: { type: 'String', value: '°C' },
              engLow: { type: 'Double', value: 0 },
              engHigh: { type: 'Double', value: 90 },
            },
          },
          { name: 'Sensors/Pressure', alias: 11, type: 'Double', value: 1.5 },
          { name: 'Running', alias: 12, type: 'Boolean', value: true },
          { name: 'Recipe', alias: 13, type: 'String', value: 'A-12' },
        ]),
      );
      await send(edge.dbirth('press-2', t0, [{ name: 'Sensors/Temperature', alias: 20, type: 'Float', value: 30 }]));
      for (let i = 1; i <= 50; i++) {
        await send(
          edge.ddata('press-1', t0 + i * 1000, [
            { alias: 10, type: 'Float', value: 20 + i / 10 },
            { alias: 11, type: 'Double', value: 1.5 },
            { alias: 12, type: 'Boolean', value: i % 2 === 0 },
          ]),
        );
        await send(edge.ddata('press-2', t0 + i * 1000, [{ alias: 20, type: 'Float', value: 30 + i / 10 }]));
      }
      // A lost message: the next one is still stored, and a rebirth requested.
      edge.skip(1);
      await send(edge.ddata('press-1', t0 + 60_000, [{ alias: 10, type: 'Float', value: 95 }]));
      await waitUntil(() => commands.length >= 2, 10_000, 'the second rebirth request');

      // 1 node metric + 3 + 1 birth values + 50 × (3 + 1) + 1 after the gap; the recipe string is refused.
      const expected = 1 + 3 + 1 + 200 + 1;
      await waitUntil(() => daemon.status().store.readingsStored >= expected, 20_000, 'all readings stored');
      if (store === 'influx') {
        await waitUntil(async () => (await countInfluxReadings(influxUrl, database)) >= expected, 20_000, 'all readings in InfluxDB');
        expect(await countInfluxReadings(influxUrl, database)).toBe(expected);
      } else {
        const db = new Database(path.join(config.dataDir, 'sensors.db'), { readonly: true });
        try {
          expect((db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n).toBe(expected);
        } finally {
          db.close();
        }
      }
      const machines = await daemon.stages.store.listMachines();
      expect(machines.map((m) => [m.ref, m.sensors]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual([
        [{ site: group, line: 'edge1', machine: 'edge1' }, ['Uptime']],
        [{ site: group, line: 'edge1', machine: 'press-1' }, ['Pressure', 'Running', 'Temperature']],
        [{ site: group, line: 'edge1', machine: 'press-2' }, ['Temperature']],
      ]);
      const status = daemon.status();
      expect(status.ingest.rejectedByReason).toEqual({ sparkplug_unknown_alias: 1, sparkplug_unsupported_type: 1 });
      expect(status.sparkplug).toMatchObject({ enabled: true, births: 3, seqGaps: 1, dataBeforeBirth: 1, rebirthRequests: 2 });
      // The engineering range from the BIRTH is a range rule: 95 °C is above 90.
      await waitUntil(
        () => daemon.stages.alerts.store.findUnresolved('press-1', 'out_of_range', 'Temperature') !== null,
        10_000,
        'the out-of-range alert',
      );

      // The edge node's connection drops: the broker sends its will (NDEATH, bdSeq 0).
      publisher.stream.destroy();
      await waitUntil(() => daemon.status().sparkplug.offlineMachines === 3, 20_000, 'machines offline');
      const offline = daemon.stages.alerts.store.findUnresolved('edge1', 'machine_offline', `${group}/edge1`);
      expect(offline?.message).toBe(`edge node ${group}/edge1 offline (NDEATH): 3 machines: edge1, press-1, press-2`);
      expect(daemon.status().journal.depth).toBe(0);
    } finally {
      publisher.end(true);
      await watcher.endAsync();
    }
  });
});
