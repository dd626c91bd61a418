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
import { tempDir } from '../support/fixtures.js';
import { subscribedSubscriber, until } from '../support/subscriber.js';

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

describe('MQTT over TLS', () => {
  // CI installs openssl (.ci/run); elsewhere the test says why it did not run.
  it.skipIf(!hasOpenssl)('takes QoS 1 messages through the fast path on an mqtts connection, each once (needs openssl)', async () => {
    const dir = tempDir();
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const broker = await Aedes.createBroker();
    const server = tls.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) => broker.handle(socket));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise<void>((r) => broker.close(() => server.close(() => r()))));
    const url = `mqtts://127.0.0.1:${(server.address() as { port: number }).port}`;

    const seen: number[] = [];
    const subscriber = await subscribedSubscriber(url, 'tls-fast-path', (ts) => seen.push(ts), {
      tls: { ca: cert, rejectUnauthorized: true },
      ackBatch: { begin: () => undefined, end: () => undefined },
    });
    cleanup.push(() => subscriber.stop());

    const publisher = await mqtt.connectAsync(url, { clientId: 'tls-publisher', ca: readFileSync(cert) });
    cleanup.push(() => publisher.endAsync());
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        publisher.publishAsync('vigil/p/l/m1/telemetry', JSON.stringify({ ts: now - 1000 + i, values: { a: i } }), { qos: 1 }),
      ),
    );
    await until(() => seen.length >= 500, 'all messages');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 500 }, (_, i) => now - 1000 + i));
    expect(subscriber.stats.fastPathMessages).toBe(500);
    expect(subscriber.stats.unacknowledged).toBe(0);
  });
});
