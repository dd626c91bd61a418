import { afterEach, describe, expect, it } from 'vitest';
import type { Readiness } from '../../src/api/status-model.js';
import { apiHarness, type Harness } from '../support/api-harness.js';
import { statusFixture } from '../support/status-fixture.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

async function setup(readiness: Readiness = { ready: true, reasons: [] }) {
  const h = await apiHarness({ anonymousRead: true, readiness, status: statusFixture() });
  open.push(h);
  return { app: h.app, deadLetters: h.deadLetters };
}

describe('HTTP API', () => {
  it('answers liveness and readiness', async () => {
    const { app } = await setup({ ready: false, reasons: ['not subscribed to the MQTT broker'] });
    expect((await app.inject('/healthz')).json()).toEqual({ ok: true });
    const r = await app.inject('/readyz');
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ ready: false, reasons: ['not subscribed to the MQTT broker'] });
    expect((await (await setup()).app.inject('/readyz')).statusCode).toBe(200);
  });

  it('serves the status document', async () => {
    const r = await (await setup()).app.inject('/api/v1/status');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual(statusFixture());
  });

  it('lists the newest dead letters, bounded, filterable by reason', async () => {
    const { app, deadLetters } = await setup();
    for (let i = 0; i < 5; i++) {
      deadLetters.record({
        receivedAt: 1000 + i,
        topic: `t/${i}`,
        rejections: [{ reason: i % 2 ? 'bad_json' : 'ts_in_future', detail: `d${i}` }],
        accepted: 0,
        excerpt: '{',
      });
    }
    const all = (await app.inject('/api/v1/dead-letters')).json() as { items: Array<{ topic: string }> };
    expect(all.items.map((d) => d.topic)).toEqual(['t/4', 't/3', 't/2']);
    const bad = (await app.inject('/api/v1/dead-letters?reason=bad_json')).json() as { items: Array<{ topic: string }> };
    expect(bad.items.map((d) => d.topic)).toEqual(['t/3']);
  });

  it.each([
    ['/api/v1/dead-letters?limit=0', 400, 'VGL_BAD_REQUEST'],
    ['/api/v1/dead-letters?limit=abc', 400, 'VGL_BAD_REQUEST'],
    ['/api/v1/dead-letters?reason=nope', 400, 'VGL_BAD_REQUEST'],
    ['/api/v1/dead-letters?other=1', 400, 'VGL_BAD_REQUEST'],
    ['/api/v1/nothing-here', 404, 'VGL_NOT_FOUND'],
  ])('answers %s with %i and a coded JSON error', async (url, status, code) => {
    const r = await (await setup()).app.inject(url);
    expect(r.statusCode).toBe(status);
    expect(r.json().error.code).toBe(code);
    expect(typeof r.json().error.message).toBe('string');
  });
});
