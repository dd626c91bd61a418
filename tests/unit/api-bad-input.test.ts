/**
 * Bad input that used to reach a 500 or a wrong answer: each gets a clear 4xx in Vigil's envelope.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { M1 } from '../support/fixtures.js';
import { apiHarness, auth, type Harness } from '../support/api-harness.js';

const open: Harness[] = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});
async function harness() {
  const h = await apiHarness({ anonymousRead: true });
  open.push(h);
  return h;
}

describe('times', () => {
  it('a time parameter beyond any date, or before 1970, is a 400 naming it', async () => {
    const h = await harness();
    for (const q of ['from=-99999999999999d', 'to=99999999999999999', 'from=2026-02-30T00:00:00Z', 'from=2026-01-01T00:00:00']) {
      const r = await h.app.inject(`/api/v1/machines/m1/readings?${q}`);
      expect([r.statusCode, r.json().error.code, q]).toEqual([400, 'VGL_BAD_REQUEST', q]);
    }
    expect((await h.app.inject('/api/v1/alerts/quality?from=-99999999999999d')).statusCode).toBe(400);
  });
});

describe('events over HTTP meet the MQTT rules', () => {
  const post = (h: Harness, payload: object) => h.app.inject({ method: 'POST', url: '/api/v1/events', headers: auth('operator'), payload });

  it.each([
    ['a time beyond any date', { machine: 'm1', type: 'failure', ts: '-99999999999999d' }, /ts lies before 1970/],
    ['a time older than ingest.maxAge', { machine: 'm1', type: 'failure', ts: '2020-01-01T00:00:00Z' }, /^ts_too_old: /],
    ['a time ahead of the clock', { machine: 'm1', type: 'failure', ts: '2026-01-01T00:10:00Z' }, /^ts_in_future: /],
    ['a machine id with an umlaut', { machine: 'pümpe', type: 'note' }, /^bad_topic: machine "pümpe"/],
    ['a machine id with line protocol syntax', { machine: 'a,b=c', type: 'note' }, /^bad_topic: machine/],
    ['a machine id of dots', { machine: '..', type: 'note' }, /^bad_topic: machine "\.\."/],
    ['a site id with a space', { machine: 'm1', site: 'plant 1', type: 'note' }, /^bad_topic: site/],
  ])('refuses %s with a 400, and stores nothing', async (_what, payload, message) => {
    const h = await harness();
    const r = await post(h, payload);
    expect([r.statusCode, r.json().error.code]).toEqual([400, 'VGL_BAD_REQUEST']);
    expect(r.json().error.message).toMatch(message);
    expect(h.submitted).toEqual([]);
    expect((await h.app.inject('/api/v1/machines/m1/events')).statusCode).toBe(200);
  });
});

describe('ids, bodies and headers', () => {
  it('an alert id is an integer written in digits', async () => {
    const h = await harness();
    h.alerts.open({ machine: M1, kind: 'machine_stale', severity: 'warning', message: 'quiet', details: {} }, h.clock.now());
    expect((await h.app.inject('/api/v1/alerts/1')).statusCode).toBe(200);
    for (const id of ['1.9', '+1', '1e0', '0x1', ' 1']) {
      const r = await h.app.inject(`/api/v1/alerts/${encodeURIComponent(id)}`);
      expect([r.statusCode, r.json().error.message, id]).toEqual([400, 'params.id: must be an integer written in digits', id]);
    }
    expect((await h.app.inject('/api/v1/training/runs/2.5')).statusCode).toBe(400);
  });

  it('a missing model version is a 404 that names the version, not a path of the gateway', async () => {
    const h = await harness();
    const r = await h.app.inject('/api/v1/models/v0009');
    expect([r.statusCode, r.json().error]).toEqual([404, { code: 'VGL_NOT_FOUND', message: 'model version v0009 does not exist' }]);
    expect(r.body).not.toContain(h.registry.dir);
  });

  it('a body holding __proto__ or constructor.prototype is refused by name; invalid JSON says so', async () => {
    const h = await harness();
    const send = (payload: string) =>
      h.app.inject({
        method: 'POST',
        url: '/api/v1/events',
        headers: { ...auth('operator'), 'content-type': 'application/json' },
        payload,
      });
    const proto = await send('{"machine":"m1","type":"note","__proto__":{"x":1}}');
    expect([proto.statusCode, proto.json().error.message]).toEqual([400, 'the body holds the key __proto__, which is never accepted']);
    const ctor = await send('{"machine":"m1","type":"note","component":"x","note":"y","constructor":{"prototype":{"x":1}}}');
    expect(ctor.json().error.message).toBe('the body holds the key constructor.prototype, which is never accepted');
    expect((await send('{"machine":')).json().error.message).toMatch(/^the body is not valid JSON: /);
    expect(h.submitted).toEqual([]);
  });

  it('headers too large for the HTTP parser get Vigil’s envelope', async () => {
    const h = await harness();
    const base = new URL(await h.app.listen({ host: '127.0.0.1', port: 0 }));
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(base.port), base.hostname, () =>
        socket.write(`GET /api/v1/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'a'.repeat(100_000)}\r\n\r\n`),
      );
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'VGL_HEADERS_TOO_LARGE', message: expect.stringMatching(/headers are too large/) },
    });
  });
});

describe('alert stream clients', () => {
  it('a client that stops reading is dropped once its backlog passes the bound, and resumes with Last-Event-ID', async () => {
    const h = await apiHarness({ anonymousRead: true, sseMaxBufferedBytes: 256 * 1024 });
    open.push(h);
    const base = new URL(await h.app.listen({ host: '127.0.0.1', port: 0 }));
    const socket = net.connect(Number(base.port), base.hostname);
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => socket.once('data', r));
    socket.pause(); // and never reads again
    const closed = new Promise((r) => socket.once('close', r));
    // Big events, far more than the kernel's socket buffers hold.
    const big = {
      machine: M1,
      kind: 'machine_stale' as const,
      subject: '',
      severity: 'warning' as const,
      message: 'x'.repeat(64 * 1024),
      details: {},
    };
    for (let i = 0; i < 400 && h.streams.dropped === 0; i++) {
      h.engine.emit('event', {
        id: i + 1,
        type: 'opened',
        at: h.clock.now(),
        alert: {
          ...big,
          id: i + 1,
          state: 'open',
          openedAt: 0,
          updatedAt: 0,
          updates: 0,
          acknowledged: null,
          resolved: null,
          outcome: null,
          leadMs: null,
          escalations: [],
        },
      });
      await new Promise((r) => setImmediate(r));
    }
    expect(h.streams.dropped).toBe(1);
    socket.resume();
    await closed;
    expect(h.streams.streams).toBe(0);
  });

  it('closing the server ends its streams, so nothing keeps the process alive', async () => {
    const h = await apiHarness({ anonymousRead: true });
    const base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    const res = await fetch(`${base}/api/v1/alerts/stream`);
    const reader = res.body!.getReader();
    await reader.read();
    await h.app.close();
    for (let r = await reader.read(); !r.done; r = await reader.read());
    expect(h.streams.streams).toBe(0);
    await h.close();
  });
});

describe('URLs the router refuses', () => {
  it('a path parameter over 100 characters is a documented 414 in the envelope, not the framework’s own body', async () => {
    const h = await harness();
    for (const url of [`/api/v1/machines/${'m'.repeat(101)}`, `/api/v1/alerts/${'9'.repeat(150)}`, `/api/v1/models/${'v'.repeat(300)}`]) {
      const r = await h.app.inject(url);
      expect([r.statusCode, r.json()]).toEqual([
        414,
        { error: { code: 'VGL_URI_TOO_LONG', message: 'a path parameter is longer than 100 characters; no id Vigil uses is that long' } },
      ]);
    }
    const spec = (h.app as unknown as { swagger(): { paths: Record<string, Record<string, { responses: object }>> } }).swagger();
    expect(Object.keys(spec.paths['/api/v1/machines/{machine}']!.get!.responses)).toContain('414');
    expect(Object.keys(spec.paths['/api/v1/status']!.get!.responses)).not.toContain('414');
  });
});
