/**
 * An HTTP fuzz pass over every route of the API (as the OpenAPI document lists them): random path
 * parameters, query strings, bodies, content types and tokens. Every answer must be a documented
 * status with the error envelope, never a 5xx, and nothing may change without an operator token.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RiskScore } from '../../src/alerts/engine.js';
import { M1 } from '../support/fixtures.js';
import { apiHarness, TOKENS, type Harness } from '../support/api-harness.js';
import { statusFixture } from '../support/status-fixture.js';

let h: Harness;
let routes: Array<{ method: string; path: string }>;

beforeAll(async () => {
  h = await apiHarness({ anonymousRead: true, status: statusFixture() });
  // Something for the writes to hit: an open alert and a registered model.
  const risk = (p: number, dataTs: number): RiskScore => ({
    machine: M1,
    dataTs: Date.UTC(2026, 0, 1) + dataTs,
    probability: p,
    rulSteps: 20,
    model: 'v0001',
    topSensors: [],
  });
  h.engine.onScore(risk(0.8, 1), 0.5);
  h.engine.onScore(risk(0.8, 2), 0.5);
  const spec = (h.app as unknown as { swagger(): { paths: Record<string, Record<string, unknown>> } }).swagger();
  routes = Object.entries(spec.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path: p })));
  // The SSE stream never ends by itself; its parameters are fuzzed in the alerts route tests.
  routes = routes.filter((r) => r.path !== '/api/v1/alerts/stream');
});
afterAll(async () => {
  await h?.close();
});

const DOCUMENTED = new Set([200, 201, 202, 204, 400, 401, 403, 404, 409, 413, 414, 415, 429, 503]);

const segment = fc.oneof(
  fc.constantFrom('1', '0', '-1', 'v0001', 'm1', 'M1', '99999999999999999999', '%00', '..', 'null', 'x'.repeat(101), 'constructor'),
  fc.string({ maxLength: 20 }).map(encodeURIComponent),
);
const query = fc.dictionary(
  fc.constantFrom('limit', 'offset', 'from', 'to', 'state', 'machine', 'kind', 'severity', 'points', 'sensor', 'after', 'x', 'range'),
  fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String)),
  { maxKeys: 4 },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .record({
      machine: fc.oneof(fc.constant('m1'), fc.string()),
      type: fc.oneof(fc.constantFrom('failure', 'note', 'repair'), fc.string()),
      ts: fc.oneof(fc.integer(), fc.string()),
      note: fc.string(),
    })
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 300 }),
  fc.constant('{"a":'.repeat(50)),
  fc.constant('x'.repeat(10_000)),
);
const contentType = fc.constantFrom(
  undefined,
  'application/json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/json; charset=utf-16',
  'multipart/form-data; boundary=x',
  '',
);

async function snapshot(): Promise<string> {
  const admin = { authorization: `Bearer ${TOKENS.admin}` };
  const alerts = await h.app.inject({ method: 'GET', url: '/api/v1/alerts?limit=500', headers: admin });
  return JSON.stringify({
    alerts: alerts.json(),
    events: h.submitted.length,
    runs: h.training.runs.length,
    requests: h.requests.length,
    champion: h.registry.championVersion(),
    versions: h.registry.versions(),
  });
}

function request(token: fc.Arbitrary<string | undefined>) {
  return fc.record({
    route: fc.nat(),
    params: fc.array(segment, { minLength: 3, maxLength: 3 }),
    query,
    body,
    contentType,
    token,
    extraHeader: fc.option(
      fc.tuple(fc.constantFrom('accept', 'x-forwarded-for', 'last-event-id', 'content-encoding'), fc.string({ maxLength: 30 })),
    ),
  });
}

type FuzzRequest = ReturnType<typeof request> extends fc.Arbitrary<infer T> ? T : never;

async function send(r: FuzzRequest): Promise<{ status: number; json: unknown }> {
  const route = routes[r.route % routes.length]!;
  let i = 0;
  const url =
    route.path.replace(/\{[^}]+\}/g, () => r.params[i++]!) +
    (Object.keys(r.query).length ? `?${new URLSearchParams(r.query).toString()}` : '');
  const headers: Record<string, string> = {};
  if (r.token !== undefined) headers.authorization = r.token;
  if (r.contentType !== undefined) headers['content-type'] = r.contentType;
  if (r.extraHeader) headers[r.extraHeader[0]] = r.extraHeader[1].replace(/[^\x20-\x7e]/g, '');
  const res = await h.app.inject({
    method: route.method as 'GET',
    url,
    headers,
    ...(r.body !== undefined && route.method !== 'GET' ? { payload: r.body } : {}),
  });
  let json: unknown;
  try {
    json = res.json();
  } catch {
    json = res.body;
  }
  return { status: res.statusCode, json };
}

function expectDocumented(res: { status: number; json: unknown }): void {
  expect(DOCUMENTED, `status ${res.status}: ${JSON.stringify(res.json).slice(0, 300)}`).toContain(res.status);
  if (res.status >= 400) expect((res.json as { error?: { code?: string } }).error?.code).toMatch(/^VGL_/);
}

describe('HTTP fuzzing of every route', () => {
  it('lists the routes to fuzz', () => {
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.some((r) => r.method === 'POST')).toBe(true);
  });

  it('without an operator token: only documented answers, and no state changes', async () => {
    const before = await snapshot();
    const token = fc.constantFrom(
      undefined,
      '',
      'Bearer',
      'Bearer ',
      'Bearer nope',
      `Bearer ${TOKENS.viewer}`,
      `bearer ${TOKENS.viewer}x`,
      `Basic ${Buffer.from('a:b').toString('base64')}`,
      `Bearer ${'a'.repeat(5000)}`,
    );
    await fc.assert(
      fc.asyncProperty(request(token), async (r) => {
        expectDocumented(await send(r));
      }),
      { numRuns: 1500 },
    );
    expect(await snapshot()).toBe(before);
  });

  it('with operator and admin tokens: still only documented answers', async () => {
    const token = fc.constantFrom(`Bearer ${TOKENS.operator}`, `Bearer ${TOKENS.admin}`);
    await fc.assert(
      fc.asyncProperty(request(token), async (r) => {
        expectDocumented(await send(r));
      }),
      { numRuns: 1500 },
    );
  });
});
