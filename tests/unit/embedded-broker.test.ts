/**
 * The embedded broker on a network it cannot trust: authentication, Vigil's own session and output
 * topics, bounded retained messages and packets, empty topic levels, and QoS downgrade.
 */
import { createConnection, type Socket } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createMqttPassword, hashPassword, verifyPassword } from '../../src/ingest/broker-auth.js';
import { PasswordChecker } from '../../src/ingest/password-checker.js';
import { fixedHeader } from '../../bench/lib/attacks.js';
import type { EmbeddedBroker } from '../../src/ingest/embedded-broker.js';
import { topicMatchesFilter } from '../../src/ingest/topics.js';
import { subscribedSubscriber, testBroker, until } from '../support/subscriber.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function broker(o: Parameters<typeof testBroker>[0] = {}): Promise<EmbeddedBroker> {
  const b = await testBroker(o);
  cleanup.push(() => b.stop());
  return b;
}

/** Connects, or resolves with the error the broker refused it with. */
async function connect(url: string, o: mqtt.IClientOptions): Promise<MqttClient | Error> {
  try {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 3000, ...o });
    cleanup.push(() => c.endAsync(true));
    return c;
  } catch (err) {
    return err as Error;
  }
}

/** Vigil's own subscriber, with the credentials the broker made for it. */
async function vigil(b: EmbeddedBroker, seen: number[]) {
  const s = await subscribedSubscriber(b.url, 'vigil-test-self', (ts) => void seen.push(ts), {
    ...b.selfCredentials,
    ackBatch: { begin: () => undefined, end: () => undefined },
  });
  cleanup.push(() => s.stop());
  return s;
}

const reading = (ts: number, a = 1) => JSON.stringify({ ts, values: { a } });

describe('embedded broker: who may connect', () => {
  it('refuses anonymous clients unless allowed, and then only from loopback; users log in with their password', async () => {
    const { password, hash } = await createMqttPassword();
    const closed = await broker({ allowAnonymous: false, users: [{ username: 'bridge', passwordHash: hash }] });
    expect(await connect(closed.url, { clientId: 'anon' })).toBeInstanceOf(Error);
    expect(await connect(closed.url, { clientId: 'bad', username: 'bridge', password: 'nope' })).toBeInstanceOf(Error);
    expect(await connect(closed.url, { clientId: 'ghost', username: 'nobody', password })).toBeInstanceOf(Error);
    expect(await connect(closed.url, { clientId: 'good', username: 'bridge', password })).not.toBeInstanceOf(Error);
    expect(closed.stats.refused).toMatchObject({ anonymous_not_allowed: 1, bad_credentials: 2 });
    const open = await broker({ allowAnonymous: true });
    expect(await connect(open.url, { clientId: 'anon' })).not.toBeInstanceOf(Error);
  });

  it("nobody takes Vigil's session: its client id and user are refused to anyone without this run's credentials", async () => {
    const b = await broker();
    const seen: number[] = [];
    const sub = await vigil(b, seen);
    expect(await connect(b.url, { clientId: 'vigil-test-self', clean: false })).toBeInstanceOf(Error);
    expect(await connect(b.url, { clientId: 'other', username: '$vigil', password: 'guess' })).toBeInstanceOf(Error);
    const pub = (await connect(b.url, { clientId: 'publisher' })) as MqttClient;
    const now = Date.now();
    for (let i = 0; i < 50; i++) await pub.publishAsync('vigil/p/l/m1/telemetry', reading(now - 100 + i), { qos: 1 });
    await until(() => seen.length === 50, 'all readings at Vigil');
    expect(sub.stats.connects).toBe(1);
    expect(b.stats.refused.client_id_reserved).toBe(2);
  });

  it('checks passwords on threads of its own, as many as its concurrency, and refuses checks beyond its queue', async () => {
    const { password, hash } = await createMqttPassword();
    const checker = new PasswordChecker(1, 2);
    cleanup.push(() => checker.close());
    const results = await Promise.all([
      checker.check(password, hash),
      checker.check('wrong', hash),
      checker.check(password, 'scrypt$bogus'),
      checker.check(password, hash),
    ]);
    // One runs, two wait, the fourth is refused without a check.
    expect(results).toEqual([true, false, false, null]);
    expect(checker.refused).toBe(1);
    expect(await checker.check(password, hash)).toBe(true);
  });

  it('hashes passwords with scrypt, and a hash is checked in constant form', async () => {
    const h = await hashPassword('s3cret');
    expect(h).toMatch(/^scrypt\$16384\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(await verifyPassword('s3cret', h)).toBe(true);
    expect(await verifyPassword('s3creT', h)).toBe(false);
    expect(await verifyPassword('s3cret', 'scrypt$bogus')).toBe(false);
  });
});

describe('embedded broker: what may be published', () => {
  it('only Vigil publishes its output topics; a user is held to its topic filters', async () => {
    const { password, hash } = await createMqttPassword();
    const b = await broker({ users: [{ username: 'line1', passwordHash: hash, publish: ['vigil/plant/line1/+/telemetry'] }] });
    const watcher = (await connect(b.url, { clientId: 'watcher' })) as MqttClient;
    const got: string[] = [];
    watcher.on('message', (t) => got.push(t));
    await watcher.subscribeAsync('#', { qos: 1 });
    const intruder = (await connect(b.url, { clientId: 'intruder' })) as MqttClient;
    intruder.publish('vigil/_gateway/status', '{"state":"offline"}', { qos: 1, retain: true });
    await until(() => b.stats.refused.reserved_topic === 1, 'status refused');
    const intruder2 = (await connect(b.url, { clientId: 'intruder2' })) as MqttClient;
    intruder2.publish('vigil/p/l/m1/alerts', '{}', { qos: 1 });
    await until(() => b.stats.refused.reserved_topic === 2, 'alert refused');
    const line1 = (await connect(b.url, { clientId: 'line1', username: 'line1', password })) as MqttClient;
    await line1.publishAsync('vigil/plant/line1/m1/telemetry', reading(Date.now()), { qos: 1 });
    line1.publish('vigil/plant/line2/m1/telemetry', reading(Date.now()), { qos: 1 });
    await until(() => b.stats.refused.topic_not_allowed === 1, 'other line refused');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual(['vigil/plant/line1/m1/telemetry']);
  });

  it('refuses a topic with an empty level before delivery, so no subscriber is dropped for it', async () => {
    const b = await broker();
    const seen: number[] = [];
    const sub = await vigil(b, seen);
    const now = Date.now();
    for (let i = 0; i < 18; i++) {
      const bad = (await connect(b.url, { clientId: `bad-${i}` })) as MqttClient;
      bad.publish('vigil/x/y//telemetry', reading(now), { qos: 1 });
    }
    await until(() => b.stats.refused.empty_topic_level === 18, 'empty levels refused');
    const pub = (await connect(b.url, { clientId: 'good' })) as MqttClient;
    for (let i = 0; i < 20; i++) await pub.publishAsync('vigil/p/l/m1/telemetry', reading(now - 100 + i), { qos: 1 });
    await until(() => seen.length === 20, 'good readings');
    expect(sub.stats.connects).toBe(1);
  });

  it('bounds packets and retained messages: a huge packet drops its connection unread, a big or surplus retained message is delivered but not kept', async () => {
    const b = await broker({ maxPacketBytes: 64 * 1024, retained: { maxMessages: 2, maxBytes: 1024 } });
    const big = (await connect(b.url, { clientId: 'big' })) as MqttClient;
    const closed = new Promise<void>((r) => big.once('close', () => r()));
    big.publish('plant/blob', Buffer.alloc(5 * 1024 * 1024), { qos: 0, retain: true });
    await closed;
    expect(b.stats.refused.packet_too_large).toBe(1);
    const pub = (await connect(b.url, { clientId: 'retainer' })) as MqttClient;
    await pub.publishAsync('plant/a', 'x'.repeat(2048), { qos: 1, retain: true });
    await pub.publishAsync('plant/b', 'small', { qos: 1, retain: true });
    await pub.publishAsync('plant/c', 'small', { qos: 1, retain: true });
    await pub.publishAsync('plant/d', 'small', { qos: 1, retain: true });
    expect(b.stats.refused.retain_dropped).toBe(2);
    const late = (await connect(b.url, { clientId: 'late' })) as MqttClient;
    const retained: string[] = [];
    late.on('message', (t, _p, packet) => packet.retain && retained.push(t));
    await late.subscribeAsync('plant/#', { qos: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(retained.sort()).toEqual(['plant/b', 'plant/c']);
  });
});

describe('embedded broker: delivery', () => {
  it('delivers a QoS 0/1/2 mix to a QoS 1 wildcard subscription exactly once, each at most at QoS 1', async () => {
    const b = await broker();
    const seen: number[] = [];
    const sub = await vigil(b, seen);
    const pub = (await connect(b.url, { clientId: 'mixed' })) as MqttClient;
    const now = Date.now();
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        pub.publishAsync('vigil/p/l/m1/telemetry', reading(now - 1000 + i, i), { qos: (i % 3) as 0 | 1 | 2 }),
      ),
    );
    await until(() => seen.length >= 300, `300 messages (${seen.length} so far)`);
    await new Promise((r) => setTimeout(r, 300));
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => now - 1000 + i));
    // Downgraded, they all took the PUBLISH fast path (QoS 2 would have gone to mqtt.js).
    expect(sub.stats.fastPathMessages).toBe(300);
  });

  it('matches topic filters as MQTT does', () => {
    expect(topicMatchesFilter('vigil/+/+/+/alerts', 'vigil/p/l/m/alerts')).toBe(true);
    expect(topicMatchesFilter('vigil/+/+/+/alerts', 'vigil/p/l/m/telemetry')).toBe(false);
    expect(topicMatchesFilter('a/#', 'a')).toBe(true);
    expect(topicMatchesFilter('a/#', 'a/b/c')).toBe(true);
    expect(topicMatchesFilter('#', '$SYS/x')).toBe(false);
    expect(topicMatchesFilter('+/x', '$SYS/x')).toBe(false);
    expect(topicMatchesFilter('a/+', 'a/b/c')).toBe(false);
  });
});

/** A raw TCP connection to the broker; resolves once the broker closed it (or after `ms`, with false). */
async function rawSocket(url: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const { port } = new URL(url);
  const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  cleanup.push(async () => void socket.destroy());
  return { socket, closed };
}

/** The start of a CONNECT packet announcing `length` bytes after its fixed header. */
function connectHeader(length: number): Buffer {
  // Protocol name and level, then garbage that never completes the packet.
  return Buffer.concat([fixedHeader(0x10, length), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 30])]);
}

describe('embedded broker: before a client logs in', () => {
  it('drops a CONNECT over the pre-login limit before reading its body', async () => {
    const b = await broker();
    const { socket, closed } = await rawSocket(b.url);
    socket.write(connectHeader(1 << 20));
    await closed;
    expect(b.stats.refused.connect_too_large).toBe(1);
    // A packet of that size is fine once logged in (the limit after login is maxPacketBytes).
    const pub = (await connect(b.url, { clientId: 'big-after-login' })) as MqttClient;
    await pub.publishAsync('plant/blob', Buffer.alloc(200_000), { qos: 1 });
    expect(b.stats.refused.packet_too_large).toBeUndefined();
  });

  it('caps connections that have not logged in, per address and overall, and closes them at their deadline', async () => {
    const b = await broker({ preLogin: { maxConnectBytes: 16_384, maxConnections: 10, maxPerAddress: 3, timeout: 300 } });
    const waiting = await Promise.all([0, 1, 2].map(() => rawSocket(b.url)));
    for (const w of waiting) w.socket.write(connectHeader(10_000));
    await until(() => b.unauthenticated === 3, 'three connections waiting to log in');
    const fourth = await rawSocket(b.url);
    await fourth.closed;
    expect(b.stats.refused.too_many_unauthenticated).toBe(1);
    await Promise.all(waiting.map((w) => w.closed));
    expect(b.stats.refused.login_timeout).toBe(3);
    await until(() => b.unauthenticated === 0, 'closed connections forgotten');
    // Logged-in clients do not count: many may stay connected.
    for (let i = 0; i < 5; i++) expect(await connect(b.url, { clientId: `ok-${i}` })).not.toBeInstanceOf(Error);
    expect(b.unauthenticated).toBe(0);
  });

  it('bounds password checks under way: beyond the queue a login is refused as busy (CONNACK 3), and the client gets in later', async () => {
    const { password, hash } = await createMqttPassword();
    const held: Array<() => void> = [];
    const b = await broker({
      users: [{ username: 'u', passwordHash: hash }],
      logins: { concurrency: 1, maxQueued: 1 },
      // Each check waits until the test lets it go, so which login is refused does not depend on timing.
      verify: async (p, stored) => {
        await new Promise<void>((r) => held.push(r));
        return verifyPassword(p, stored);
      },
    });
    const first = connect(b.url, { clientId: 'c1', username: 'u', password });
    await until(() => held.length === 1, 'first check under way');
    const second = connect(b.url, { clientId: 'c2', username: 'u', password });
    const third = await connect(b.url, { clientId: 'c3', username: 'u', password, connectTimeout: 3000 });
    expect(third).toBeInstanceOf(Error);
    expect(b.stats.refused.login_busy).toBe(1);
    held.shift()!();
    await until(() => held.length === 1, 'second check under way');
    held.shift()!();
    expect(await first).not.toBeInstanceOf(Error);
    expect(await second).not.toBeInstanceOf(Error);
    const again = connect(b.url, { clientId: 'c3', username: 'u', password });
    await until(() => held.length === 1, 'retry checked');
    held.shift()!();
    expect(await again).not.toBeInstanceOf(Error);
  });
});
