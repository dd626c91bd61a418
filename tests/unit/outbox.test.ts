import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/alerts/alert-store.js';
import type { Notifier } from '../../src/alerts/notifiers/notifier.js';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookNotifier, signature } from '../../src/alerts/notifiers/webhook.js';
import { Outbox, retryDelay } from '../../src/alerts/outbox.js';
import type { AlertEvent } from '../../src/alerts/types.js';
import { silentLogger } from '../../src/core/logger.js';
import { openVigilState } from '../../src/state.js';
import { M1 } from '../support/fixtures.js';
import { ManualClock } from '../support/manual-clock.js';

const OPTS = { retryInitialMs: 1000, retryMaxMs: 8000, maxAttempts: 4, jitter: () => 0 };

/** A channel that fails while `failing` is set and records what it delivered. */
class ScriptedNotifier implements Notifier {
  failing = false;
  delivered: Array<{ event: number; type: string; delivery: number }> = [];
  attempts = 0;
  constructor(readonly channel: string) {}
  async deliver(event: AlertEvent, deliveryId: number): Promise<void> {
    this.attempts++;
    if (this.failing) throw new Error('receiver down');
    this.delivered.push({ event: event.id, type: event.type, delivery: deliveryId });
  }
}

function setup(channels = ['a', 'b']) {
  const clock = new ManualClock();
  const store = new AlertStore(openVigilState(':memory:'), channels);
  const notifiers = channels.map((c) => new ScriptedNotifier(c));
  const outbox = new Outbox(store, notifiers, clock, silentLogger(), OPTS);
  const openAlert = () => store.open({ machine: M1, kind: 'failure_risk', severity: 'warning', message: 'm', details: {} }, clock.now());
  return { clock, store, notifiers, outbox, openAlert };
}

describe('notification outbox', () => {
  it('backs off 1, 2, 4, 8, 8 s (capped), with jitter only ever adding', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelay(n, OPTS))).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(retryDelay(1, { ...OPTS, jitter: () => 1 })).toBe(1200);
  });

  it('delivers each event to every channel once; a failing channel retries with backoff and keeps its order; the other is not held up', async () => {
    const { clock, store, notifiers, outbox, openAlert } = setup();
    const [a, b] = notifiers as [ScriptedNotifier, ScriptedNotifier];
    b.failing = true;
    const opened = openAlert();
    store.acknowledge(opened.alert.id, 'ana', null, clock.now());
    await outbox.runOnce();
    expect(a.delivered.map((d) => d.type)).toEqual(['opened', 'acknowledged']);
    // b tried its first delivery only: the second waits behind it.
    expect(b.attempts).toBe(1);
    clock.advance(999);
    await outbox.runOnce();
    expect(b.attempts).toBe(1);
    clock.advance(1);
    await outbox.runOnce();
    expect(b.attempts).toBe(2);
    b.failing = false;
    clock.advance(2000);
    await outbox.runOnce();
    expect(b.delivered.map((d) => d.type)).toEqual(['opened', 'acknowledged']);
    expect(store.deliveries.counts()).toEqual({ pending: 0, delivered: 4, dead: 0 });
    await outbox.runOnce();
    expect(a.delivered).toHaveLength(2);
  });

  it('marks a delivery dead after maxAttempts, shows the error, and lets later ones through', async () => {
    const { clock, store, notifiers, outbox, openAlert } = setup(['a']);
    const a = notifiers[0]!;
    a.failing = true;
    openAlert();
    for (let i = 0; i < 4; i++) {
      await outbox.runOnce();
      clock.advance(10_000);
    }
    expect(a.attempts).toBe(4);
    const [dead] = store.deliveries.list({ state: 'dead', limit: 10 });
    expect(dead).toMatchObject({ attempts: 4, lastError: 'receiver down' });
    a.failing = false;
    store.resolve(store.unresolved()[0]!.id, { by: 'ana', resolution: 'technician' }, clock.now());
    await outbox.runOnce();
    expect(a.delivered.map((d) => d.type)).toEqual(['resolved']);
  });

  it('keeps pending deliveries across a restart, and never repeats a delivered one', async () => {
    const clock = new ManualClock();
    const db = openVigilState(':memory:');
    const first = new ScriptedNotifier('a');
    const store = new AlertStore(db, ['a']);
    store.open({ machine: M1, kind: 'failure_risk', severity: 'warning', message: 'one', details: {} }, clock.now());
    await new Outbox(store, [first], clock, silentLogger(), OPTS).runOnce();
    store.open({ machine: { ...M1, machine: 'm2' }, kind: 'failure_risk', severity: 'warning', message: 'two', details: {} }, clock.now());
    // "Restart": a new outbox over the same database.
    const second = new ScriptedNotifier('a');
    await new Outbox(store, [second], clock, silentLogger(), OPTS).runOnce();
    expect(first.delivered.map((d) => d.event)).toEqual([1]);
    expect(second.delivered.map((d) => d.event)).toEqual([2]);
  });

  it('survives a pass that cannot read its state (closed or broken database) and tries again later', async () => {
    const clock = new ManualClock();
    const db = openVigilState(':memory:');
    const store = new AlertStore(db, ['a']);
    const outbox = new Outbox(store, [new ScriptedNotifier('a')], clock, silentLogger(), OPTS);
    db.close();
    outbox.start();
    await new Promise((r) => setImmediate(r));
    expect(outbox.counters.passFailures).toBe(1);
    clock.advance(OPTS.retryInitialMs);
    await new Promise((r) => setImmediate(r));
    expect(outbox.counters.passFailures).toBe(2);
    outbox.stop();
  });

  it('schedules its own retry on the clock after a failure', async () => {
    const { clock, notifiers, outbox, openAlert } = setup(['a']);
    notifiers[0]!.failing = true;
    openAlert();
    outbox.start();
    await new Promise((r) => setImmediate(r));
    expect(notifiers[0]!.attempts).toBe(1);
    notifiers[0]!.failing = false;
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    expect(notifiers[0]!.delivered).toHaveLength(1);
    outbox.stop();
  });
});

describe('webhook notifier', () => {
  const servers: Array<{ close: () => void }> = [];
  afterEach(() => servers.splice(0).forEach((s) => s.close()));

  async function receiver(status: number) {
    const got: Array<{ headers: IncomingMessage['headers']; body: string }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push({ headers: req.headers, body });
        res.statusCode = status;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
  }

  it('posts the event as JSON signed with HMAC-SHA256 over timestamp and body', async () => {
    const { url, got } = await receiver(204);
    const store = new AlertStore(openVigilState(':memory:'), ['webhook:ops']);
    const ev = store.open(
      { machine: M1, kind: 'failure_risk', severity: 'critical', message: 'm1 at risk', details: { probability: 0.93 } },
      Date.UTC(2026, 0, 1),
    );
    const secret = 'a-long-shared-secret-123';
    await new WebhookNotifier({ name: 'ops', url, secret, timeoutMs: 2000 }, () => 1_767_225_600_000).deliver(ev, 42);
    const { headers, body } = got[0]!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-vigil-delivery']).toBe('42');
    expect(headers[TIMESTAMP_HEADER]).toBe('1767225600');
    const expected = `sha256=${createHmac('sha256', secret).update(`1767225600.${body}`).digest('hex')}`;
    expect(headers[SIGNATURE_HEADER]).toBe(expected);
    expect(signature(secret, '1767225600', body)).toBe(expected);
    expect(signature('another-secret-0000', '1767225600', body)).not.toBe(expected);
    expect(JSON.parse(body)).toMatchObject({
      id: ev.id,
      type: 'opened',
      alert: { machine: M1, severity: 'critical', details: { probability: 0.93 } },
    });
  });

  it('treats a non-2xx answer and an unreachable receiver as failures to retry', async () => {
    const { url } = await receiver(500);
    const store = new AlertStore(openVigilState(':memory:'), ['webhook:ops']);
    const ev = store.open({ machine: M1, kind: 'failure_risk', severity: 'warning', message: 'x', details: {} }, 0);
    await expect(
      new WebhookNotifier({ name: 'ops', url, secret: 'a-long-shared-secret-123', timeoutMs: 2000 }).deliver(ev, 1),
    ).rejects.toThrow(/HTTP 500/);
    await expect(
      new WebhookNotifier({ name: 'ops', url: 'http://127.0.0.1:1/hook', secret: 'a-long-shared-secret-123', timeoutMs: 2000 }).deliver(
        ev,
        1,
      ),
    ).rejects.toThrow();
  });
});
