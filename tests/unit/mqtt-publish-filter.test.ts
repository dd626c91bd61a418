/**
 * PublishFilter on a real TCP socket pair, the test playing the broker: which bytes the client sends
 * back (PUBACKs) and when, what reaches mqtt.js's side, and what a failed batch or a held message does.
 */
import net, { type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { PublishFilter, type AckBatch, type PublishHandler } from '../../src/ingest/fastpath/publish-filter.js';
import { until } from '../support/subscriber.js';

const cleanup: Array<() => void> = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

const publish = (messageId: number, qos: 0 | 1 = 1) =>
  mqttPacket.generate({
    cmd: 'publish',
    topic: 'vigil/p/l/m1/telemetry',
    payload: Buffer.from(`{"n":${messageId}}`),
    qos,
    messageId: qos ? messageId : undefined,
    dup: false,
    retain: false,
  } as Packet);

/** A connected pair: `broker` is the far end, `client` wrapped by a PublishFilter. */
async function pair(handler: Partial<PublishHandler>, ackBatch?: AckBatch) {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const broker = await accepted;
  cleanup.push(() => {
    client.destroy();
    broker.destroy();
    server.close();
  });
  const received = { messages: [] as string[], failed: [] as string[], batchFailures: [] as number[] };
  const filter = new PublishFilter(
    client,
    {
      message: handler.message ?? ((_t, p) => void received.messages.push(p.toString())),
      failed: handler.failed ?? ((err) => received.failed.push(String(err))),
      batchFailed: handler.batchFailed ?? ((_e, n) => received.batchFailures.push(n)),
    },
    ackBatch,
  );
  // What the broker reads back: PUBACK message ids, in order.
  const acks: number[] = [];
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on('packet', (p: Packet) => acks.push((p as { messageId: number }).messageId));
  broker.on('data', (b) => parser.parse(b));
  // What mqtt.js would read: everything but QoS 0/1 PUBLISH.
  const forwarded: Buffer[] = [];
  filter.on('data', (b: Buffer) => forwarded.push(Buffer.from(b)));
  // mqtt.js listens for the stream's errors (a failed batch destroys it with one).
  filter.on('error', () => undefined);
  return { broker, client, filter, acks, received, forwarded };
}

describe('PUBLISH fast path', () => {
  it("acknowledges a read's QoS 1 messages in order after the batch is durable, and hands every other packet on", async () => {
    const order: string[] = [];
    const { broker, acks, received, forwarded } = await pair(
      {},
      { begin: () => order.push('begin'), end: () => order.push(`end after ${received.messages.length}`) },
    );
    const pingresp = mqttPacket.generate({ cmd: 'pingresp' } as Packet);
    const suback = mqttPacket.generate({ cmd: 'suback', messageId: 9, granted: [1] } as Packet);
    broker.write(Buffer.concat([publish(1), pingresp, publish(2, 0), publish(3), suback, publish(65_535)]));
    await until(() => acks.length === 3, 'PUBACKs');
    expect(acks).toEqual([1, 3, 65_535]);
    expect(received.messages).toEqual(['{"n":1}', '{"n":2}', '{"n":3}', '{"n":65535}']);
    expect(order).toEqual(['begin', 'end after 4']);
    expect(Buffer.concat(forwarded)).toEqual(Buffer.concat([pingresp, suback]));
  });

  it('a failed batch drops the connection with none of its PUBACKs sent', async () => {
    const { broker, client, acks, received } = await pair(
      {},
      {
        begin: () => undefined,
        end: () => {
          throw new Error('disk full');
        },
      },
    );
    const closed = new Promise((r) => broker.once('close', r));
    broker.write(Buffer.concat([publish(1), publish(2)]));
    await closed;
    expect(client.destroyed).toBe(true);
    expect(acks).toEqual([]);
    expect(received.batchFailures).toEqual([2]);
  });

  it('a message held back holds the ones after it; each is acknowledged once taken, none twice', async () => {
    const held: Array<() => void> = [];
    const seen: string[] = [];
    const { broker, acks } = await pair(
      {
        message: (_t, p) => {
          seen.push(p.toString());
          if (seen.length % 4 === 0) return new Promise<void>((r) => held.push(r));
        },
      },
      { begin: () => undefined, end: () => undefined, maxMessages: 1000 },
    );
    broker.write(Buffer.concat(Array.from({ length: 12 }, (_, i) => publish(i + 1))));
    for (let round = 1; round <= 3; round++) {
      await until(() => held.length === round, `message ${round * 4} held`);
      await until(() => acks.length === round * 4 - 1, `PUBACKs before message ${round * 4}`);
      await new Promise((r) => setTimeout(r, 20));
      // Nothing after the held message was taken or acknowledged while it waits.
      expect(seen).toHaveLength(round * 4);
      expect(acks).toEqual(Array.from({ length: round * 4 - 1 }, (_, i) => i + 1));
      held[round - 1]!();
    }
    await until(() => acks.length === 12, 'all PUBACKs');
    expect(acks).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('a message whose handling fails is left unacknowledged; the ones around it are not', async () => {
    const { broker, acks, received } = await pair({
      message: (_t, p) => {
        if (p.toString() === '{"n":2}') throw new Error('decoder bug');
        if (p.toString() === '{"n":4}') return Promise.reject(new Error('stopping'));
      },
    });
    broker.write(Buffer.concat([1, 2, 3, 4, 5].map((n) => publish(n))));
    await until(() => acks.length === 3, 'PUBACKs');
    expect(acks).toEqual([1, 3, 5]);
    expect(received.failed).toEqual(['Error: decoder bug', 'Error: stopping']);
  });

  it('still ends a batch (its journal records made durable) when the connection drops before it closes', async () => {
    const batches = { begun: 0, ended: 0 };
    const seen: string[] = [];
    const ref: { client?: Socket } = {};
    const { broker, client } = await pair(
      {
        // The connection drops while the batch is open: after the first message, before the batch's setImmediate.
        message: (_t, p) => {
          seen.push(p.toString());
          ref.client!.destroy();
        },
      },
      {
        begin: () => {
          batches.begun++;
        },
        end: () => {
          batches.ended++;
        },
      },
    );
    ref.client = client;
    const closed = new Promise((r) => client.once('close', r));
    broker.write(Buffer.concat([publish(1), publish(2)]));
    await closed;
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(seen.length).toBeGreaterThan(0);
    expect(batches.begun).toBeGreaterThan(0);
    expect(batches.ended).toBe(batches.begun);
  });

  it('closes a batch after maxMessages within one read', async () => {
    const sizes: number[] = [];
    let n = 0;
    const { broker, acks } = await pair(
      {
        message: () => {
          n++;
        },
      },
      { begin: () => (n = 0), end: () => void sizes.push(n), maxMessages: 7 },
    );
    broker.write(Buffer.concat(Array.from({ length: 30 }, (_, i) => publish(i + 1))));
    await until(() => acks.length === 30, 'PUBACKs');
    expect(Math.max(...sizes)).toBeLessThanOrEqual(7);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('takes at most maxMessagesPerTurn per turn of the event loop, so timers run between; every message is still taken once, in order', async () => {
    const turns: number[] = [0];
    let ticking = true;
    // A marker between turns: each time it fires a new turn's count starts.
    const tick = () => {
      turns.push(0);
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const { broker, acks, received } = await pair(
      { message: (_t, p) => (turns[turns.length - 1]!++, void received.messages.push(p.toString())) },
      { begin: () => undefined, end: () => undefined, maxMessagesPerTurn: 10 },
    );
    broker.write(Buffer.concat(Array.from({ length: 100 }, (_, i) => publish(i + 1))));
    await until(() => acks.length === 100, 'PUBACKs');
    ticking = false;
    expect(received.messages).toEqual(Array.from({ length: 100 }, (_, i) => `{"n":${i + 1}}`));
    expect(acks).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(Math.max(...turns)).toBeLessThanOrEqual(10);
    expect(turns.filter((n) => n > 0).length).toBeGreaterThanOrEqual(10);
  });
});
