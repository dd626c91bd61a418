import { afterEach, describe, expect, it } from 'vitest';
import type { RiskScore } from '../../src/alerts/engine.js';
import { M1 } from '../support/fixtures.js';
import { apiHarness, auth, type Harness } from '../support/api-harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});
async function harness(o: Parameters<typeof apiHarness>[0] = {}) {
  const h = await apiHarness(o);
  open.push(h);
  return h;
}

const risk = (p: number, dataTs: number): RiskScore => ({
  machine: M1,
  dataTs: Date.UTC(2026, 0, 1) + dataTs,
  probability: p,
  rulSteps: 20,
  model: 'v0001',
  topSensors: [],
});
function openRiskAlert(h: Harness): number {
  h.engine.onScore(risk(0.8, 1), 0.5);
  h.engine.onScore(risk(0.8, 2), 0.5);
  return h.alerts.unresolved()[0]!.id;
}

type Role = 'anonymous' | 'viewer' | 'operator' | 'admin';
const WRITES: Array<{ method: 'POST'; url: string; body: unknown; needs: Exclude<Role, 'anonymous' | 'viewer'> }> = [
  { method: 'POST', url: '/api/v1/events', body: { machine: 'm1', type: 'note', note: 'checked' }, needs: 'operator' },
  { method: 'POST', url: '/api/v1/alerts/1/ack', body: {}, needs: 'operator' },
  { method: 'POST', url: '/api/v1/alerts/1/resolve', body: {}, needs: 'operator' },
  { method: 'POST', url: '/api/v1/training/runs', body: {}, needs: 'operator' },
  { method: 'POST', url: '/api/v1/training/runs/1/cancel', body: {}, needs: 'operator' },
  { method: 'POST', url: '/api/v1/models/v0001/promote', body: {}, needs: 'admin' },
  { method: 'POST', url: '/api/v1/models/rollback', body: {}, needs: 'admin' },
];
const RANK: Record<Role, number> = { anonymous: 0, viewer: 1, operator: 2, admin: 3 };

describe('auth', () => {
  it.each(WRITES.flatMap((w) => (['anonymous', 'viewer', 'operator', 'admin'] as const).map((role) => [w.url, role, w] as const)))(
    'POST %s as %s',
    async (_url, role, w) => {
      // Open reads must not open writes.
      const h = await harness({ anonymousRead: true });
      const r = await h.app.inject({
        method: w.method,
        url: w.url,
        payload: w.body as object,
        headers: role === 'anonymous' ? {} : auth(role),
      });
      if (role === 'anonymous') expect([r.statusCode, r.json().error.code]).toEqual([401, 'VGL_UNAUTHORIZED']);
      else if (RANK[role] < RANK[w.needs]) expect([r.statusCode, r.json().error.code]).toEqual([403, 'VGL_FORBIDDEN']);
      else expect([401, 403]).not.toContain(r.statusCode);
    },
  );

  it('closes reads without a token unless anonymous reads are on, and refuses bad tokens either way', async () => {
    const closed = await harness({ anonymousRead: false });
    expect((await closed.app.inject('/api/v1/alerts')).statusCode).toBe(401);
    expect((await closed.app.inject({ url: '/api/v1/alerts', headers: auth('viewer') })).statusCode).toBe(200);
    expect((await closed.app.inject('/healthz')).statusCode).toBe(200);
    expect((await closed.app.inject('/metrics')).statusCode).toBe(401);
    const openReads = await harness({ anonymousRead: true });
    expect((await openReads.app.inject('/api/v1/alerts')).statusCode).toBe(200);
    for (const authorization of ['Bearer nope', 'Basic abc', 'Bearer']) {
      const r = await openReads.app.inject({ url: '/api/v1/alerts', headers: { authorization } });
      expect([r.statusCode, r.json().error.code]).toEqual([401, 'VGL_UNAUTHORIZED']);
    }
  });
});

describe('events', () => {
  it('records a technician event through the durable path, attributed to the token holder', async () => {
    const h = await harness();
    const r = await h.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: auth('operator'),
      payload: { machine: 'm1', line: 'l1', site: 'plant', type: 'failure', component: 'bearing', ts: '2025-12-31T23:00:00Z' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).toMatchObject({ type: 'failure', ts: '2025-12-31T23:00:00.000Z', recordedBy: 'operator-user' });
    const stored = await h.store.queryEvents({ machine: 'm1' });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ type: 'failure', component: 'bearing', note: 'recorded by operator-user' });
  });

  it.each([
    ['an unknown field', { machine: 'm1', type: 'note', extra: 1 }, 400, 'VGL_BAD_REQUEST'],
    ['a wrong type', { machine: 'm1', type: 'explosion' }, 400, 'VGL_BAD_REQUEST'],
    ['a missing machine', { type: 'note' }, 400, 'VGL_BAD_REQUEST'],
    ['a machine id with a topic wildcard', { machine: 'm/#', type: 'note' }, 400, 'VGL_BAD_REQUEST'],
    ['a time that is no time', { machine: 'm1', type: 'note', ts: 'yesterday' }, 400, 'VGL_BAD_REQUEST'],
    ['a time far in the future', { machine: 'm1', type: 'note', ts: '2030-01-01T00:00:00Z' }, 400, 'VGL_BAD_REQUEST'],
    ['an oversize body', { machine: 'm1', type: 'note', note: 'x'.repeat(5000) }, 413, 'VGL_PAYLOAD_TOO_LARGE'],
  ])('refuses %s and stores nothing', async (_name, payload, status, code) => {
    const h = await harness();
    const r = await h.app.inject({ method: 'POST', url: '/api/v1/events', headers: auth('operator'), payload });
    expect([r.statusCode, r.json().error.code]).toEqual([status, code]);
    expect(h.submitted).toHaveLength(0);
  });

  it('refuses a body that is not JSON', async () => {
    const h = await harness();
    const r = await h.app.inject({
      method: 'POST',
      url: '/api/v1/events',
      headers: { ...auth('operator'), 'content-type': 'text/plain' },
      payload: 'machine=m1',
    });
    expect([r.statusCode, r.json().error.code]).toEqual([415, 'VGL_UNSUPPORTED_MEDIA_TYPE']);
    expect(h.submitted).toHaveLength(0);
  });

  it('rate-limits writes per client, never reads', async () => {
    const h = await harness({ writesPerMinute: 2 });
    const post = () =>
      h.app.inject({ method: 'POST', url: '/api/v1/events', headers: auth('operator'), payload: { machine: 'm1', type: 'note' } });
    expect((await post()).statusCode).toBe(201);
    expect((await post()).statusCode).toBe(201);
    const third = await post();
    expect([third.statusCode, third.json().error.code]).toEqual([429, 'VGL_RATE_LIMITED']);
    expect(h.submitted).toHaveLength(2);
    for (let i = 0; i < 5; i++) expect((await h.app.inject({ url: '/api/v1/alerts', headers: auth('viewer') })).statusCode).toBe(200);
  });
});

describe('alerts', () => {
  it('lists with filters and paging, shows one, acknowledges and resolves, and refuses wrong transitions', async () => {
    const h = await harness({ anonymousRead: true });
    const id = openRiskAlert(h);
    for (const m of ['m2', 'm3'])
      h.alerts.open({ machine: { ...M1, machine: m }, kind: 'machine_stale', severity: 'warning', message: 'quiet', details: {} }, 0);
    const page1 = (await h.app.inject('/api/v1/alerts?limit=2')).json();
    expect(page1.items.map((a: { machine: { machine: string } }) => a.machine.machine)).toEqual(['m3', 'm2']);
    const page2 = (await h.app.inject(`/api/v1/alerts?limit=2&before=${page1.nextBefore}`)).json();
    expect(page2.items.map((a: { id: number }) => a.id)).toEqual([id]);
    expect(page2.nextBefore).toBeNull();
    expect((await h.app.inject('/api/v1/alerts?kind=failure_risk&state=open')).json().items).toHaveLength(1);
    expect((await h.app.inject('/api/v1/alerts?machine=m2')).json().items).toHaveLength(1);
    expect((await h.app.inject('/api/v1/alerts?state=bogus')).statusCode).toBe(400);
    expect((await h.app.inject(`/api/v1/alerts/${id}`)).json()).toMatchObject({ id, kind: 'failure_risk', state: 'open' });
    expect((await h.app.inject('/api/v1/alerts/999')).json().error.code).toBe('VGL_NOT_FOUND');
    expect((await h.app.inject('/api/v1/alerts/abc')).statusCode).toBe(400);

    const ack = await h.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/ack`,
      headers: auth('operator'),
      payload: { note: 'on my way' },
    });
    expect(ack.json()).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'operator-user', note: 'on my way' } });
    const again = await h.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/ack`, headers: auth('operator'), payload: {} });
    expect([again.statusCode, again.json().error.code]).toEqual([409, 'VGL_CONFLICT']);
    const res = await h.app.inject({ method: 'POST', url: `/api/v1/alerts/${id}/resolve`, headers: auth('operator') });
    expect(res.json()).toMatchObject({
      state: 'resolved',
      resolved: { resolution: 'technician', by: 'operator-user' },
      outcome: 'false_alarm',
    });
    const bad = await h.app.inject({
      method: 'POST',
      url: `/api/v1/alerts/${id}/resolve`,
      headers: auth('operator'),
      payload: { note: 1 },
    });
    expect(bad.statusCode).toBe(400);
    expect((await h.app.inject('/api/v1/alerts/quality')).json()).toMatchObject({
      falseAlarms: 1,
      precision: 0,
      period: { from: new Date(h.clock.now()).toISOString(), to: null },
    });
    expect((await h.app.inject('/api/v1/alerts/quality?from=-1h&to=-30m')).json()).toMatchObject({ falseAlarms: 0, precision: null });
    expect((await h.app.inject('/api/v1/alerts/quality?from=-1h&to=-2h')).json().error.code).toBe('VGL_BAD_REQUEST');
    h.clock.advance(1000);
    const reset = await h.app.inject({ method: 'POST', url: '/api/v1/alerts/quality/reset', headers: auth('operator') });
    expect(reset.json()).toMatchObject({ falseAlarms: 0, precision: null, period: { from: new Date(h.clock.now()).toISOString() } });
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/alerts/quality/reset' })).statusCode).toBe(401);
    expect((await h.app.inject('/api/v1/notifications?state=pending')).json().counts.pending).toBe(5);
  });

  it('streams alert changes over SSE and replays what a reconnecting client missed', async () => {
    const h = await harness({ anonymousRead: true });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const ctrl = new AbortController();
    const res = await fetch(`${base}/api/v1/alerts/stream`, { signal: ctrl.signal });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.getReader();
    const id = openRiskAlert(h);
    h.engine.acknowledge(id, 'ana', null);
    let text = '';
    while (!/event: alert[\s\S]*event: alert/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const frames = text.split('\n\n').filter((f) => f.includes('event: alert'));
    expect(frames.map((f) => JSON.parse(f.split('data: ')[1]!).type)).toEqual(['opened', 'acknowledged']);
    ctrl.abort();
    h.engine.resolve(id, 'ana', null);
    // Reconnect after the first event: the two after it are replayed in order.
    const ctrl2 = new AbortController();
    const again = await fetch(`${base}/api/v1/alerts/stream`, { headers: { 'last-event-id': '1' }, signal: ctrl2.signal });
    const r2 = again.body!.getReader();
    let text2 = '';
    while ((text2.match(/event: alert/g) ?? []).length < 2) text2 += new TextDecoder().decode((await r2.read()).value);
    expect([...text2.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))).toEqual([2, 3]);
    ctrl2.abort();
  });
});

describe('machines', () => {
  it('lists machines known to the store, serves downsampled readings and refuses bad ranges', async () => {
    const h = await harness({ anonymousRead: true });
    const t0 = h.clock.now() - 600_000;
    const samples = Array.from({ length: 600 }, (_, i) => ({ machine: M1, ts: t0 + i * 1000, values: { a: i, b: 2 } }));
    await h.store.write({ samples, events: [] });
    const list = (await h.app.inject('/api/v1/machines')).json();
    expect(list.items).toEqual([expect.objectContaining({ machine: M1, status: 'not_seen_since_start', score: null })]);
    const raw = (await h.app.inject(`/api/v1/machines/m1/readings?from=${t0}&to=${t0 + 10_000}`)).json();
    expect(raw.points).toHaveLength(10);
    expect(raw.everyMs).toBeNull();
    const down = (await h.app.inject(`/api/v1/machines/m1/readings?from=-10m&every=60000&sensors=a`)).json();
    expect(down.everyMs).toBe(60_000);
    expect(down.points.length).toBeLessThanOrEqual(11);
    expect(Object.keys(down.points[1].values)).toEqual(['a']);
    const capped = (await h.app.inject(`/api/v1/machines/m1/readings?from=-10m&points=20`)).json();
    expect(capped.points.length).toBeLessThanOrEqual(21);
    expect(capped.everyMs).toBeGreaterThanOrEqual(30_000);
    expect((await h.app.inject('/api/v1/machines/m1/readings?from=soon')).json().error.code).toBe('VGL_BAD_REQUEST');
    expect((await h.app.inject(`/api/v1/machines/m1/readings?from=${t0 + 5}&to=${t0}`)).json().error.code).toBe('VGL_BAD_REQUEST');
    expect((await h.app.inject('/api/v1/machines/m1/readings?points=0')).statusCode).toBe(400);
    expect((await h.app.inject('/api/v1/machines/m1')).json().error.code).toBe('VGL_NOT_FOUND');
    // Once it sends, the machine has latest values and says why it has no score.
    h.scoring.observe({ samples: [{ machine: M1, ts: t0 + 600_000, values: { a: 7, b: 2 } }], events: [] });
    await h.scoring.tick();
    const detail = (await h.app.inject('/api/v1/machines/m1')).json();
    expect(detail).toMatchObject({
      machine: M1,
      status: 'no_model',
      detail: 'no model trained yet',
      score: null,
      latest: { a: { value: 7 } },
      history: [],
      alerts: [],
    });
    // Data time and arrival time differ for data stamped in the past.
    expect(detail.lastSeenAt).toBe(new Date(t0 + 600_000).toISOString());
    expect(detail.lastReceivedAt).toBe(new Date(h.clock.now()).toISOString());
    expect((await h.app.inject('/api/v1/machines')).json().items[0].status).toBe('no_model');
    expect((await h.app.inject('/api/v1/machines/m1/scores')).json()).toEqual({ items: [] });
    await h.store.write({ samples: [], events: [{ machine: M1, ts: t0 + 1000, type: 'repair', component: 'seal' }] });
    expect((await h.app.inject('/api/v1/machines/m1/events')).json()).toEqual({
      items: [{ ts: new Date(t0 + 1000).toISOString(), type: 'repair', component: 'seal', note: null }],
    });
    expect((await h.app.inject('/api/v1/machines/m1/events?from=nonsense')).statusCode).toBe(400);
  });

  it('filters, sorts and pages a large fleet on the server, with the total', async () => {
    const h = await harness({ anonymousRead: true });
    const now = h.clock.now();
    const fleet = Array.from({ length: 1200 }, (_, i) => ({
      site: 'plant',
      line: i % 2 ? 'odd' : 'even',
      machine: `press-${String(i).padStart(4, '0')}`,
    }));
    h.scoring.observe({ samples: fleet.map((m, i) => ({ machine: m, ts: now - i, values: { a: i } })), events: [] });
    const first = (await h.app.inject('/api/v1/machines')).json();
    expect([first.items.length, first.total]).toEqual([1000, 1200]);
    const page = (await h.app.inject('/api/v1/machines?sort=name&limit=3&offset=10')).json();
    expect(page.items.map((m: { machine: { machine: string } }) => m.machine.machine)).toEqual(['press-0010', 'press-0011', 'press-0012']);
    const odd = (await h.app.inject('/api/v1/machines?q=ODD&sort=line&limit=2')).json();
    expect(odd.total).toBe(600);
    expect(odd.items.every((m: { machine: { line: string } }) => m.machine.line === 'odd')).toBe(true);
    expect((await h.app.inject('/api/v1/machines?limit=0')).statusCode).toBe(400);
  });
});

describe('models and training', () => {
  it('lists an empty registry and answers unknown versions with 404', async () => {
    const h = await harness({ anonymousRead: true });
    expect((await h.app.inject('/api/v1/models')).json()).toEqual({ champion: null, champions: {}, healthChampions: {}, items: [] });
    expect((await h.app.inject('/api/v1/kinds')).json()).toEqual({ rule: expect.stringMatching(/same set of sensors/), items: [] });
    expect((await h.app.inject('/api/v1/models/v0009')).json().error.code).toBe('VGL_NOT_FOUND');
    expect((await h.app.inject('/api/v1/models/latest')).statusCode).toBe(400);
    const promote = await h.app.inject({ method: 'POST', url: '/api/v1/models/v0009/promote', headers: auth('admin') });
    expect(promote.json().error.code).toBe('VGL_NOT_FOUND');
    const rollback = await h.app.inject({ method: 'POST', url: '/api/v1/models/rollback', headers: auth('admin'), payload: {} });
    expect(rollback.json().error.code).toBe('VGL_NOT_FOUND');
  });

  it('triggers one run at a time, lists and shows runs, cancels the running one', async () => {
    const h = await harness({ anonymousRead: true });
    const first = await h.app.inject({
      method: 'POST',
      url: '/api/v1/training/runs',
      headers: auth('operator'),
      payload: { bypassEnergyPolicy: true, epochs: 3 },
    });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({
      id: 1,
      trigger: 'api',
      requestedBy: 'operator-user',
      state: 'running',
      bypassedEnergyPolicy: true,
    });
    const busy = await h.app.inject({
      method: 'POST',
      url: '/api/v1/training/runs',
      headers: auth('operator'),
      payload: { bypassEnergyPolicy: true },
    });
    expect([busy.statusCode, busy.json().error.code]).toEqual([409, 'VGL_TRAINING_BUSY']);
    // A kind there is no machine of: refused with the kinds there are, nothing started.
    const unknownKind = await h.app.inject({
      method: 'POST',
      url: '/api/v1/training/runs',
      headers: auth('operator'),
      payload: { kind: 'gearbox' },
    });
    expect([unknownKind.statusCode, unknownKind.json().error.message]).toEqual([
      404,
      'no machine of kind gearbox in the store (kinds: pump, motor)',
    ]);
    // Without the bypass the energy policy decides; here it queues the request for a cleaner window.
    const queued = await h.app.inject({ method: 'POST', url: '/api/v1/training/runs', headers: auth('operator') });
    expect(queued.statusCode).toBe(202);
    expect(queued.json()).toMatchObject({
      queued: true,
      decision: { action: 'defer', reason: expect.stringMatching(/requested by operator-user/) },
    });
    expect(h.requests).toEqual(['operator-user']);
    expect(
      (await h.app.inject({ method: 'POST', url: '/api/v1/training/runs', headers: auth('operator'), payload: { epochs: 0 } })).statusCode,
    ).toBe(400);
    expect((await h.app.inject('/api/v1/training/runs')).json().items).toHaveLength(1);
    expect((await h.app.inject('/api/v1/training/runs/1')).json().id).toBe(1);
    expect((await h.app.inject('/api/v1/training/runs/7')).json().error.code).toBe('VGL_NOT_FOUND');
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/training/runs/1/cancel', headers: auth('operator') })).statusCode).toBe(202);
    expect((await h.app.inject({ method: 'POST', url: '/api/v1/training/runs/7/cancel', headers: auth('operator') })).statusCode).toBe(404);
  });
});

describe('metrics and docs', () => {
  it('exposes Prometheus metrics and an OpenAPI document covering every route', async () => {
    const h = await harness({ anonymousRead: true });
    const m = await h.app.inject('/metrics');
    expect(m.headers['content-type']).toMatch(/text\/plain/);
    expect(m.body).toMatch(/vigil_ingest_messages_total\{result="accepted"\} 5/);
    expect(m.body).toMatch(/vigil_ingest_rejects_total\{reason="bad_json"\} 1/);
    expect(m.body).toMatch(/vigil_event_loop_lag_seconds\{quantile="0.99"\} 0.002/);
    const doc = (await h.app.inject('/docs/json')).json();
    const energy = (await h.app.inject('/api/v1/energy')).json();
    expect(energy).toMatchObject({
      policy: { enabled: true, cpuMeter: 'cpu-estimate' },
      budget: { period: 'day', usedKWh: 0 },
      totals: { runs: 0 },
      decisions: [],
      runs: [],
    });
    for (const p of [
      '/api/v1/energy',
      '/api/v1/status',
      '/api/v1/machines',
      '/api/v1/machines/{machine}/readings',
      '/api/v1/events',
      '/api/v1/alerts',
      '/api/v1/alerts/{id}/ack',
      '/api/v1/alerts/stream',
      '/api/v1/models',
      '/api/v1/training/runs',
    ]) {
      expect(doc.paths).toHaveProperty([p]);
    }
    expect((await h.app.inject('/docs')).statusCode).toBeLessThan(400);
  });
});
