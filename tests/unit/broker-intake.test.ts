/**
 * The embedded broker with Vigil's in-process intake: a publisher's acknowledgement (PUBACK, or
 * PUBREC at QoS 2) means the message is in the journal, never earlier.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerIntake, MAX_WAITING, MAX_WAITING_BYTES } from '../../src/ingest/broker-intake.js';
import type { EmbeddedBroker } from '../../src/ingest/embedded-broker.js';
import { testBroker, until } from '../support/subscriber.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const TOPIC = 'vigil/p/l/m1/telemetry';

/**
 * A broker whose intake appends to a fake journal: `log` records each record appended and each
 * durable write (`end` of the acknowledgement batch); `failWrites` makes that many writes throw.
 */
async function brokerWithIntake(o: { handle?: (topic: string, payload: Buffer) => void | Promise<void> } = {}) {
  const log: string[] = [];
  const state = { failWrites: 0, appended: [] as string[], unflushed: [] as string[] };
  const b = await testBroker();
  cleanup.push(() => b.stop());
  const intake = new BrokerIntake(
    ['vigil/+/+/+/telemetry'],
    o.handle ??
      ((_topic, payload) => {
        state.unflushed.push(payload.toString());
        log.push(`append ${payload.toString()}`);
      }),
    {
      begin: () => undefined,
      end: () => {
        if (state.failWrites > 0) {
          state.failWrites--;
          state.unflushed = [];
          log.push('write failed');
          throw new Error('disk full');
        }
        state.appended.push(...state.unflushed);
        state.unflushed = [];
        log.push('durable');
      },
    },
  );
  b.takeIngest(intake);
  return { b, intake, log, state };
}

async function client(b: EmbeddedBroker, o: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(b.url, { reconnectPeriod: 50, connectTimeout: 3000, ...o });
  cleanup.push(() => c.endAsync(true));
  return c;
}

describe('embedded broker intake: acknowledged means journalled', () => {
  it('a publish that comes before the daemon attached its intake waits for it, unacknowledged, and is journalled', async () => {
    // A publisher reconnecting at once to a restarted daemon sends what it had in flight before ingest exists.
    const b = await testBroker({ intakeExpected: true });
    cleanup.push(() => b.stop());
    const pub = await client(b, { clientId: 'early' });
    let acked = false;
    const puback = pub.publishAsync(TOPIC, 'early', { qos: 1 }).then(() => void (acked = true));
    await until(() => b.stats.heldBeforeIntake === 1, 'the publish held');
    expect(acked).toBe(false);
    const journalled: string[] = [];
    const intake = new BrokerIntake(['vigil/+/+/+/telemetry'], (_t, payload) => void journalled.push(payload.toString()), {
      begin: () => undefined,
      end: () => undefined,
    });
    b.takeIngest(intake);
    expect(b.stats.heldBeforeIntake).toBe(0);
    // The intake itself holds it until the daemon runs.
    expect(intake.stats.waiting).toBe(1);
    intake.open();
    await puback;
    expect(journalled).toEqual(['early']);
  });

  it('without an intake expected (a plain broker), publishes are acknowledged and forwarded at once', async () => {
    const b = await testBroker();
    cleanup.push(() => b.stop());
    const pub = await client(b, { clientId: 'plain' });
    await pub.publishAsync(TOPIC, 'x', { qos: 1 });
    expect(b.stats.heldBeforeIntake).toBe(0);
  });

  it('sends each PUBACK only after the journal write that holds its message', async () => {
    const { b, intake, log } = await brokerWithIntake();
    intake.open();
    const pub = await client(b, { clientId: 'pub' });
    await Promise.all(['a', 'b', 'c'].map((p) => pub.publishAsync(TOPIC, p, { qos: 1 }).then(() => void log.push(`puback ${p}`))));
    // Every acknowledgement comes after the first write that followed its message's append.
    for (const p of ['a', 'b', 'c']) {
      const appended = log.indexOf(`append ${p}`);
      expect(appended).toBeGreaterThanOrEqual(0);
      const durable = log.indexOf('durable', appended);
      expect(durable).toBeGreaterThan(appended);
      expect(log.indexOf(`puback ${p}`)).toBeGreaterThan(durable);
    }
    expect(intake.stats.messages).toBe(3);
  });

  it('a failed journal write acknowledges nothing: the connection drops and the publisher sends the message again', async () => {
    const { b, intake, log, state } = await brokerWithIntake();
    intake.open();
    state.failWrites = 1;
    const pub = await client(b, { clientId: 'pub', clean: false });
    await pub.publishAsync(TOPIC, 'x', { qos: 1 });
    expect(log.filter((l) => l === 'append x')).toHaveLength(2);
    expect(log.indexOf('write failed')).toBeLessThan(log.indexOf('durable'));
    expect(state.appended).toEqual(['x']);
    expect(intake.stats.refused).toBe(1);
  });

  it('holds the PUBREC of a QoS 2 message until it is durable, too', async () => {
    const { b, intake, log } = await brokerWithIntake();
    intake.open();
    const pub = await client(b, { clientId: 'pub2' });
    await pub.publishAsync(TOPIC, 'q2', { qos: 2 });
    log.push('acknowledged');
    expect(log).toEqual(['append q2', 'durable', 'acknowledged']);
  });

  it('a message waiting for journal capacity (backpressure) is acknowledged only once appended', async () => {
    let release!: () => void;
    const appended: string[] = [];
    const { b, intake } = await brokerWithIntake({
      handle: (_t, payload) =>
        new Promise<void>((r) => {
          release = () => {
            appended.push(payload.toString());
            r();
          };
        }),
    });
    intake.open();
    const pub = await client(b, { clientId: 'held' });
    let acked = false;
    const sent = pub.publishAsync(TOPIC, 'late', { qos: 1 }).then(() => (acked = true));
    await until(() => release !== undefined, 'message at the intake');
    await new Promise((r) => setTimeout(r, 200));
    expect(acked).toBe(false);
    release();
    await sent;
    expect(appended).toEqual(['late']);
  });

  it('holds publishes while the daemon starts, refuses them once ingest stops; other topics and subscribers are unaffected', async () => {
    const { b, intake, log } = await brokerWithIntake();
    const watcher = await client(b, { clientId: 'watcher' });
    const seen: string[] = [];
    watcher.on('message', (t, p) => seen.push(`${t} ${p.toString()}`));
    await watcher.subscribeAsync('#', { qos: 1 });
    const pub = await client(b, { clientId: 'early' });
    await pub.publishAsync('plant/other', 'free', { qos: 1 });
    let acked = false;
    const early = pub.publishAsync(TOPIC, 'early', { qos: 1 }).then(() => (acked = true));
    await until(() => intake.stats.waiting === 1, 'publish waiting for the start');
    expect(acked).toBe(false);
    intake.open();
    await early;
    expect(log).toEqual(['append early', 'durable']);
    await until(() => seen.length === 2, 'both messages at the other subscriber');
    expect(seen).toEqual(['plant/other free', `${TOPIC} early`]);

    intake.close();
    const late = await client(b, { clientId: 'late', reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => late.once('close', () => r()));
    late.publish(TOPIC, 'after stop', { qos: 1 });
    await closed;
    expect(log).not.toContain('append after stop');
    expect(intake.stats.refused).toBe(1);
  });

  it('bounds the publishes held while the daemon starts by count and by bytes, refusing the rest', () => {
    const byCount = new BrokerIntake([TOPIC], () => undefined, undefined);
    const answers: Array<Error | null | undefined> = [];
    for (let i = 0; i <= MAX_WAITING; i++) byCount.accept(TOPIC, Buffer.from('1'), (err) => answers.push(err));
    expect(byCount.stats.waiting).toBe(MAX_WAITING);
    expect(answers).toHaveLength(1);
    expect(answers[0]).toBeInstanceOf(Error);

    // One shared buffer: the bound counts payload bytes, the test need not allocate them.
    const mib = Buffer.alloc(1024 * 1024);
    const bySize = new BrokerIntake([TOPIC], () => undefined, undefined);
    const refused: number[] = [];
    const fits = MAX_WAITING_BYTES / mib.length;
    for (let i = 0; i < fits + 2; i++) bySize.accept(TOPIC, mib, (err) => err && refused.push(i));
    expect(bySize.stats.waiting).toBe(fits);
    expect(refused).toEqual([fits, fits + 1]);
    // Opening hands on what waited; the room is free again for the next start.
    bySize.open();
    expect(bySize.stats).toMatchObject({ waiting: 0, messages: fits, refused: 2 });
  });
});
