/**
 * mqtts: the PUBLISH fast path reads decrypted bytes off the TLS socket mqtt.js opens, and the CA
 * setting is honoured. A throw-away certificate from openssl and an in-process aedes over TLS.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { IngestBatch } from '../../src/core/types.js';
import { MessageDecoder } from '../../src/ingest/decoder.js';
import { MqttSubscriber } from '../../src/ingest/mqtt-subscriber.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { IngestStats } from '../../src/ingest/stats.js';
import { tempDir } from '../support/fixtures.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('MQTT over TLS', () => {
  // CI installs openssl (.ci/run); elsewhere the test says why it did not run.
  it.skipIf(!hasOpenssl)('takes QoS 1 messages through the fast path on an mqtts connection, each once (needs openssl)', async () => {
    const dir = tempDir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const broker = await Aedes.createBroker();
    const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) => broker.handle(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => broker.close(() => server.close(() => r()))));
    const url = `mqtts://127.0.0.1:${(server.address() as { port: number }).port}`;

    const seen: number[] = [];
    const sink = { accept: (batch: IngestBatch) => void batch.samples.forEach((s) => seen.push(s.ts)) };
    const decoder = new MessageDecoder({ telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'], eventTopics: [], format: 'auto', maxPayloadBytes: 65_536, maxFutureSkewMs: 60_000, maxAgeMs: 86_400_000, allowMachines: [], lineProtocolPrecision: 'ms' });
    const pipeline = new IngestPipeline(decoder, sink, { record: () => undefined }, new IngestStats(systemClock), systemClock);
    const subscriber = new MqttSubscriber(
      { url, clientId: 'tls-fast-path', tls: { ca: cert, rejectUnauthorized: true }, qos: 1, keepalive: 30, reconnectMinMs: 50, reconnectMaxMs: 200, filters: decoder.filters, ackBatch: { begin: () => undefined, end: () => undefined } },
      pipeline,
      systemClock,
      silentLogger(),
    );
    subscriber.start();
    cleanup.push(() => subscriber.stop());
    await until(() => subscriber.stats.subscribed, 'subscription over TLS');

    const publisher = await mqtt.connectAsync(url, { clientId: 'tls-publisher', ca: readFileSync(cert) });
    cleanup.push(() => publisher.endAsync());
    const now = Date.now();
    await Promise.all(Array.from({ length: 500 }, (_, i) => publisher.publishAsync('vigil/p/l/m1/telemetry', JSON.stringify({ ts: now - 1000 + i, values: { a: i } }), { qos: 1 })));
    await until(() => seen.length >= 500, 'all messages');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => now - 1000 + i));
    expect(subscriber.stats.fastPathMessages).toBe(500);
    expect(subscriber.stats.unacknowledged).toBe(0);
  });
});
