import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { IngestBatch } from '../../src/core/types.js';
import { MessageDecoder } from '../../src/ingest/decoder.js';
import { MqttLink, type LinkOptions } from '../../src/ingest/mqtt-link.js';
import { IngestPipeline } from '../../src/ingest/pipeline.js';
import { IngestStats } from '../../src/ingest/stats.js';
import { EmbeddedBroker, type EmbeddedBrokerOptions } from '../../src/ingest/embedded-broker.js';

/** An embedded broker for tests on a free loopback port: anonymous loopback clients allowed unless said otherwise. */
export async function testBroker(o: Partial<EmbeddedBrokerOptions> = {}): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker(
    {
      host: '127.0.0.1',
      port: 0,
      users: [],
      allowAnonymous: true,
      maxPacketBytes: 1 << 20,
      preLogin: { maxConnectBytes: 16_384, maxConnections: 128, maxPerAddress: 32, timeout: 10_000 },
      logins: { concurrency: 1, maxQueued: 32 },
      retained: { maxMessages: 100, maxBytes: 4096 },
      selfClientId: 'vigil-test-self',
      reservedTopics: ['vigil/+/+/+/alerts', 'vigil/_gateway/status'],
      ...o,
    },
    silentLogger(),
  );
  await broker.start();
  return broker;
}

/** Polls `check` every 10 ms (for in-process brokers and sockets, where things settle in milliseconds). */
export async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Vigil's MQTT link routing `vigil/{site}/{line}/{machine}/telemetry` through the real decoder and pipeline,
 * whose sink hands each accepted reading's ts to `onSample`; resolves once subscribed. Stop it.
 */
export async function subscribedSubscriber(
  url: string,
  clientId: string,
  onSample: (ts: number) => void,
  options: {
    qos?: 0 | 1 | 2;
    ackBatch?: LinkOptions['ackBatch'];
    tls?: LinkOptions['tls'];
    username?: string;
    password?: string;
  } = {},
): Promise<MqttLink> {
  const sink = {
    accept(batch: IngestBatch) {
      for (const s of batch.samples) onSample(s.ts);
    },
  };
  const decoder = new MessageDecoder({
    telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
    eventTopics: [],
    format: 'auto',
    maxPayloadBytes: 65_536,
    maxFutureSkewMs: 60_000,
    maxAgeMs: 86_400_000,
    allowMachines: [],
    lineProtocolPrecision: 'ms',
  });
  const pipeline = new IngestPipeline(decoder, sink, { record: () => undefined }, new IngestStats(systemClock), systemClock);
  const subscriber = new MqttLink(
    {
      url,
      clientId,
      username: options.username,
      password: options.password,
      tls: options.tls ?? { rejectUnauthorized: true },
      qos: options.qos ?? 1,
      keepalive: 30,
      reconnectMinMs: 50,
      reconnectMaxMs: 200,
      ackBatch: options.ackBatch,
    },
    systemClock,
    silentLogger(),
  );
  for (const filter of decoder.filters) subscriber.route(filter, (topic, payload) => pipeline.handle(topic, payload));
  subscriber.start();
  try {
    await until(() => subscriber.stats.subscribed, `subscription of ${clientId}`);
  } catch (err) {
    await subscriber.stop();
    throw err;
  }
  return subscriber;
}
