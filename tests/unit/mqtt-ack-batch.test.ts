/**
 * The subscriber sends the PUBACKs of one socket read only after `ackBatch.end()` has made their
 * messages durable; when that fails it drops the connection with the PUBACKs unsent, and the broker
 * (persistent session) delivers the same messages again. An in-process broker keeps this fast.
 */
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { LinkOptions } from '../../src/ingest/mqtt-link.js';
import { subscribedSubscriber, testBroker, until } from '../support/subscriber.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** An embedded broker and a subscriber (at `qos`) whose acknowledgement batches are `ackBatch`; `onSample` sees each accepted reading. */
async function subscribed(
  clientId: string,
  ackBatch: NonNullable<LinkOptions['ackBatch']>,
  onSample: (ts: number) => void,
  qos: 0 | 1 | 2 = 1,
) {
  const broker = await testBroker();
  cleanup.push(() => broker.stop());
  const subscriber = await subscribedSubscriber(broker.url, clientId, onSample, { qos, ackBatch });
  cleanup.push(() => subscriber.stop());
  return { broker, subscriber };
}

describe('MQTT acknowledgement batches', () => {
  it('a failed durable write drops the connection unacknowledged and the broker redelivers', async () => {
    const seen: number[] = [];
    const batches = { begun: 0, ended: 0, failNext: false };
    const { broker, subscriber } = await subscribed(
      'ack-batch-test',
      {
        begin: () => batches.begun++,
        end: () => {
          batches.ended++;
          if (batches.failNext) {
            batches.failNext = false;
            throw new Error('disk full');
          }
        },
      },
      (ts) => seen.push(ts),
    );

    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'ack-batch-publisher' });
    cleanup.push(() => publisher.endAsync());
    const now = Date.now();
    const publish = (ts: number) => publisher.publishAsync('vigil/p/l/m1/telemetry', JSON.stringify({ ts, values: { a: 1 } }), { qos: 1 });

    // A good batch: delivered once, acknowledged, never again.
    await publish(now - 100);
    await until(() => seen.length === 1 && batches.ended >= 1, 'first message');
    const connects = subscriber.stats.connects;

    // The durable write of the next batch fails: no PUBACK, the connection goes, the message comes back.
    batches.failNext = true;
    await publish(now - 50);
    await until(() => seen.filter((t) => t === now - 50).length >= 2, 'redelivery after the failed write');
    expect(subscriber.stats.connects).toBeGreaterThan(connects);
    expect(subscriber.stats.unacknowledged).toBeGreaterThanOrEqual(1);
    expect(subscriber.stats.fastPathMessages).toBeGreaterThanOrEqual(3);

    // Everything is acknowledged now: nothing more arrives, and the first message was never redelivered.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.filter((t) => t === now - 100)).toHaveLength(1);
    expect(batches.begun).toBe(batches.ended);
  });

  it('closes a batch after maxMessages, so a flood never holds more than that many unacknowledged', async () => {
    const seen: number[] = [];
    let sinceEnd = 0;
    const batchSizes: number[] = [];
    const batches = { begun: 0, ended: 0 };
    const { broker } = await subscribed(
      'ack-batch-flood',
      {
        begin: () => batches.begun++,
        end: () => {
          batches.ended++;
          batchSizes.push(sinceEnd);
          sinceEnd = 0;
        },
        maxMessages: 50,
      },
      (ts) => {
        seen.push(ts);
        sinceEnd++;
      },
    );
    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'ack-batch-flooder' });
    cleanup.push(() => publisher.endAsync());
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        publisher.publishAsync('vigil/p/l/m1/telemetry', JSON.stringify({ ts: now - 5000 + i, values: { a: i } }), { qos: 1 }),
      ),
    );
    await until(() => seen.length >= 2000 && sinceEnd === 0, 'all messages');
    expect(new Set(seen).size).toBe(2000);
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(50);
    // Messages did arrive many to a read: some batches were closed by the cap, not by setImmediate.
    expect(batchSizes.filter((n) => n === 50).length).toBeGreaterThan(2);
    expect(batches.begun).toBe(batches.ended);
    // Every message was acknowledged: none comes back on a new session.
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toHaveLength(2000);
  });

  it('QoS 0/1 subscriptions read messages off the socket by the PUBLISH fast path', async () => {
    const seen: number[] = [];
    const { broker, subscriber } = await subscribed(
      'fast-path-qos1',
      { begin: () => undefined, end: () => undefined },
      (ts) => void seen.push(ts),
      1,
    );
    const publisher = await mqtt.connectAsync(broker.url, { clientId: 'fast-path-publisher' });
    cleanup.push(() => publisher.endAsync());
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        publisher.publishAsync('vigil/p/l/m1/telemetry', JSON.stringify({ ts: now - 1000 + i, values: { a: i } }), {
          qos: i % 2 === 0 ? 1 : 0,
        }),
      ),
    );
    await until(() => seen.length >= 300, `all messages (${seen.length} so far)`);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => now - 1000 + i));
    expect(subscriber.stats.fastPathMessages).toBe(300);
    expect(subscriber.stats.unacknowledged).toBe(0);
    // (A QoS 2 subscription, which the embedded broker does not serve, is tested against Mosquitto.)
  });
});
