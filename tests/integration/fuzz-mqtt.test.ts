/**
 * 125,000 MQTT messages through the real Mosquitto into a running daemon, 100,000 of them fuzzed
 * (random bytes, random JSON, mutated readings and line protocol). Afterwards every count must
 * reconcile: messages received, accepted and rejected by reason, and the readings in the store are
 * exactly the distinct (machine, time, sensor) the decoder accepts from what was sent.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { MessageDecoder } from '../../src/ingest/decoder.js';
import type { Daemon } from '../../src/main.js';
import { startTestDaemon } from '../support/daemon.js';
import { mutatedBytes } from '../support/mutate.js';
import { waitUntil } from '../support/influx.js';

const TOTAL = 125_000;
const FUZZED_SHARE = 0.8;
const FUZZED = TOTAL * FUZZED_SHARE;
const MACHINES = 50;

let running: Daemon | null = null;
afterEach(async () => {
  await running?.stop();
  running = null;
});

function messages(base: number): Array<{ topic: string; payload: Buffer }> {
  const sensor = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
  const reading = (i: number) =>
    fc.record({
      ts: fc.constant(base + i * 100),
      values: fc.dictionary(sensor, fc.double({ min: -1e6, max: 1e6, noNaN: true, noDefaultInfinity: true }), { minKeys: 1, maxKeys: 8 }),
    });
  const mutate = (text: string) => mutatedBytes(fc.constant(text), 4);
  const fuzzed = (i: number) =>
    fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
      reading(i).chain((r) => mutate(JSON.stringify(r))),
      reading(i).chain((r) =>
        mutate(
          Object.entries(r.values)
            .map(([k, v]) => `telemetry ${k}=${v} ${r.ts}`)
            .join('\n'),
        ),
      ),
    );
  const out: Array<{ topic: string; payload: Buffer }> = [];
  for (let i = 0; i < TOTAL; i++) {
    const topic = `vigil/fz/l1/m${i % MACHINES}/telemetry`;
    // Four in five fuzzed: exactly 100,000 of 125,000.
    if (i % 5 !== 0) out.push({ topic, payload: fc.sample(fuzzed(i), { numRuns: 1, seed: i })[0]! });
    else out.push({ topic, payload: Buffer.from(JSON.stringify({ ts: base + i * 100, values: { temp: i % 97, vib: (i % 13) / 10 } })) });
  }
  return out;
}

describe('fuzzed MQTT through a real broker', () => {
  it(`reconciles ${TOTAL.toLocaleString('en')} messages, ${FUZZED_SHARE * 100} % fuzzed: nothing lost, nothing invented, every refusal counted`, async () => {
    const { daemon, config } = await startTestDaemon({ mqtt: { url: inject('mqttUrl') } });
    running = daemon;
    await waitUntil(() => daemon.readiness().ready, 10_000, 'daemon ready');

    const base = Date.now() - 20 * 86_400_000;
    const sent = messages(base);
    // What the daemon's own decoder accepts from these messages, decided offline.
    const decoder = new MessageDecoder({
      telemetryTopics: config.mqtt.topics.telemetry,
      eventTopics: config.mqtt.topics.events,
      format: config.mqtt.format,
      maxPayloadBytes: config.ingest.maxPayloadBytes,
      maxFutureSkewMs: config.ingest.maxFutureSkew,
      maxAgeMs: config.ingest.maxAge,
      allowMachines: config.ingest.allowMachines,
      lineProtocolPrecision: config.ingest.lineProtocolPrecision,
    });
    const keys = new Set<string>();
    const reasons: Record<string, number> = {};
    let rejectedMessages = 0;
    const now = Date.now();
    for (const m of sent) {
      const out = decoder.decode(m.topic, m.payload, now);
      for (const s of out.batch.samples) for (const sensor of Object.keys(s.values)) keys.add(`${s.machine.machine}|${s.ts}|${sensor}`);
      if (out.rejections.length > 0) rejectedMessages++;
      for (const r of out.rejections) reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
    }
    expect(FUZZED).toBe(100_000);
    expect(rejectedMessages).toBeGreaterThan(FUZZED * 0.5);

    const client = await mqtt.connectAsync(inject('mqttUrl'), { clientId: `fuzz-pub-${Date.now()}` });
    let inFlight = 0;
    for (const m of sent) {
      inFlight++;
      client.publish(m.topic, m.payload, { qos: 1 }, () => inFlight--);
      if (inFlight > 1000) while (inFlight > 500) await new Promise((r) => setTimeout(r, 2));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    await client.endAsync();

    await waitUntil(
      () =>
        daemon.status().ingest.messagesReceived >= TOTAL &&
        daemon.status().store.pendingSamples === 0 &&
        daemon.status().journal.depth === 0,
      120_000,
      'every message processed and committed',
    );
    const st = daemon.status();
    expect(st.ingest.messagesReceived).toBe(TOTAL);
    expect(st.ingest.rejectedByReason).toEqual(reasons);
    const db = new Database(path.join(config.dataDir, 'sensors.db'), { readonly: true });
    try {
      expect((db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n).toBe(keys.size);
    } finally {
      db.close();
    }
    // And the daemon is healthy afterwards.
    expect(daemon.readiness().ready).toBe(true);
  });
});
