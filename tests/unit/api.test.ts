import { afterEach, describe, expect, it } from 'vitest';
import type { Readiness, Status } from '../../src/api/status-model.js';
import { apiHarness, type Harness } from '../support/api-harness.js';

function statusFixture(): Status {
  return {
    version: '0.1.0',
    startedAt: new Date(0).toISOString(),
    uptimeSeconds: 5,
    ingest: { messagesReceived: 3, messagesAccepted: 2, messagesRejected: 1, readingsAccepted: 20, eventsAccepted: 0, messagesPerSecond: 0.3, readingsPerSecond: 2, rejectedByReason: { bad_json: 1 } },
    store: { kind: 'sqlite', state: 'up', samplesStored: 2, readingsStored: 20, eventsStored: 0, readingsPerSecond: 2, pendingSamples: 0, commits: 1, commitFailures: 0, storeRejections: 0, lastStoreRejection: null, lastCommitAt: null, lastCommitMs: null, downSince: null, lastError: null },
    journal: { depth: 0, bytes: 0, maxBytes: 100, segments: 0, corruptRecords: 0, catchingUp: false, backpressure: false, backpressureEpisodes: 0 },
    model: { champion: null, createdAt: null, prAuc: null, f1: null, rulRmse: null, trainedOn: null, versions: 0, error: null },
    broker: { mode: 'embedded', url: 'mqtt://127.0.0.1:1883', connected: true, subscribed: true, since: null, connects: 1, lastError: null },
    scoring: { enabled: true, champion: null, machines: 0, machinesScored: 0, scoresTotal: 0, lastBatchMs: null, lastBatchSize: 0, errors: 0, lastError: null, eventLoopLagMs: { p50: 1, p99: 2, max: 3 } },
    alerts: {
      open: 0,
      acknowledged: 0,
      resolved: 0,
      quality: { truePositives: 0, falseAlarms: 0, missedFailures: 0, precision: null, recall: null, meanLeadMs: null },
      deliveries: { pending: 0, delivered: 0, dead: 0 },
    },
    training: { running: null, lastRun: null, scheduled: true },
  };
}

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
