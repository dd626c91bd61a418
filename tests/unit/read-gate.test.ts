/**
 * Expensive reads are bounded: a few run, a few wait, the rest are told to come back (503 with
 * Retry-After), and the routes that must always answer (status, readiness) never wait behind them.
 */
import { describe, expect, it } from 'vitest';
import { ReadGate } from '../../src/api/read-gate.js';
import { VigilError } from '../../src/core/errors.js';
import { apiHarness } from '../support/api-harness.js';
import { statusFixture } from '../support/status-fixture.js';

/** A read that finishes when told to. */
function held<T>(value: T) {
  let release!: () => void;
  const done = new Promise<T>((r) => (release = () => r(value)));
  return { read: () => done, release: () => release() };
}

describe('read gate', () => {
  it('runs up to its concurrency, queues up to its limit in order, and refuses beyond with a retry time', async () => {
    const gate = new ReadGate(2, 1, 3);
    const a = held('a');
    const b = held('b');
    const c = held('c');
    const order: string[] = [];
    const pa = gate.run('a', a.read).then((v) => order.push(v));
    const pb = gate.run('b', b.read).then((v) => order.push(v));
    const pc = gate.run('c', c.read).then((v) => order.push(v));
    expect(gate.stats).toMatchObject({ running: 2, queued: 1, refused: 0 });
    const refused = await gate.run('d', async () => 'd').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(VigilError);
    expect((refused as VigilError).code).toBe('VGL_BUSY');
    expect((refused as VigilError).details).toEqual({ retryAfterSeconds: 3 });
    expect(gate.stats.refused).toBe(1);
    c.release(); // queued: it has not started, so it cannot finish before a slot frees
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual([]);
    b.release();
    await pb;
    a.release();
    await Promise.all([pa, pc]);
    expect(order).toEqual(['b', 'c', 'a']);
    expect(gate.stats).toMatchObject({ running: 0, queued: 0 });
  });

  it('a failing read frees its slot', async () => {
    const gate = new ReadGate(1, 0);
    await expect(gate.run('x', () => Promise.reject(new Error('store down')))).rejects.toThrow('store down');
    expect(await gate.run('y', async () => 42)).toBe(42);
  });

  it('over HTTP: a read beyond the queue gets 503 VGL_BUSY with Retry-After while status still answers', async () => {
    const h = await apiHarness({ anonymousRead: true, status: statusFixture(), heavyReads: { concurrency: 1, maxQueued: 1 } });
    const t0 = h.clock.now() - 60_000;
    await h.store.write({ samples: [{ machine: { site: 's', line: 'l', machine: 'm1' }, ts: t0, values: { a: 1 } }], events: [] });
    const gateOpen = held(undefined);
    const query = h.store.queryReadings.bind(h.store);
    h.store.queryReadings = async (q) => {
      await gateOpen.read();
      return query(q);
    };
    const url = `/api/v1/machines/m1/readings?from=${t0 - 1}&to=${t0 + 1}`;
    const first = h.app.inject(url);
    const second = h.app.inject(url);
    // Both are in the gate (one running, one waiting) before the third arrives.
    for (let i = 0; i < 200 && h.reads.stats.queued !== 1; i++) await new Promise((r) => setImmediate(r));
    const third = await h.app.inject(url);
    expect(third.statusCode).toBe(503);
    expect(third.headers['retry-after']).toBe('2');
    expect(third.json().error.code).toBe('VGL_BUSY');
    expect((await h.app.inject('/api/v1/status')).statusCode).toBe(200);
    expect((await h.app.inject('/readyz')).statusCode).toBe(200);
    gateOpen.release();
    expect((await first).json().points).toHaveLength(1);
    expect((await second).json().points).toHaveLength(1);
  });
});
