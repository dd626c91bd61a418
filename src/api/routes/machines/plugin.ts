import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AlertStore } from '../../../alerts/index.js';
import type { Clock } from '../../../core/clock.js';
import { VigilError, errorMessage } from '../../../core/errors.js';
import type { MachineState, ScoringService } from '../../../scoring/index.js';
import type { SensorStore } from '../../../core/sensor-store.js';
import { alertJson } from '../alerts/schemas.js';
import type { SensorDescription } from '../../../core/sensor-metadata.js';
import type { ReadGate } from '../../read-gate.js';
import { MachineParams, Nullable, READ_ERRORS, errors, iso, parseTimeParam } from '../../schemas.js';
import { Summary, Detail, ListQuery, HistoryQuery, ReadingsQuery, HealthPoint } from './schemas.js';

export interface MachineRouteDeps {
  scoring: Pick<ScoringService, 'states' | 'machine' | 'history' | 'healthHistory'>;
  store: Pick<SensorStore, 'listMachines' | 'queryReadings' | 'aggregateReadings' | 'queryEvents'>;
  /** Bounds the store queries under way at once (503 with Retry-After beyond its queue). */
  reads: ReadGate;
  alerts: Pick<AlertStore, 'list' | 'unresolvedCount'>;
  clock: Clock;
  /** Units and ranges of a machine's sensors. */
  describe?: (machine: string, sensors: string[]) => Record<string, SensorDescription>;
  threshold?: (machine: string) => number | null;
}

/** Stored machines not seen since start are listed from a copy at most this old: the store's list is a heavy query on a large fleet. */
const STORED_LIST_TTL_MS = 60_000;

/** Machines with their risk and RUL, one machine's detail, its score history and its readings. */
export function machineRoutes(app: FastifyInstance, d: MachineRouteDeps): void {
  const score = (s: MachineState['score']) =>
    s && {
      scoredAt: iso(s.at)!,
      dataTs: iso(s.dataTs)!,
      probability: s.probability,
      rulSteps: s.rulSteps,
      rulSeconds: s.rulMs / 1000,
      model: s.model,
      topSensors: s.topSensors,
      missingInputs: s.missingInputs ?? [],
    };
  const health = (h: MachineState['health']) =>
    h && {
      scoredAt: iso(h.at)!,
      dataTs: iso(h.dataTs)!,
      index: h.index,
      threshold: h.threshold,
      score: h.score,
      model: h.model,
      deviations: h.deviations,
      missingInputs: h.missingInputs,
    };
  const summary = (
    s: Pick<MachineState, 'ref' | 'status' | 'detail' | 'score' | 'lastSeenTs' | 'health' | 'healthDetail'> & {
      lastReceivedAt: number | null;
      kind: MachineState['kind'] | null;
    },
  ) => ({
    machine: s.ref,
    kind: s.kind && { name: s.kind.kind, source: s.kind.source },
    status: s.status as MachineState['status'] | 'not_seen_since_start',
    detail: s.detail,
    score: score(s.score),
    health: health(s.health),
    healthDetail: s.healthDetail,
    lastSeenAt: iso(s.lastSeenTs),
    lastReceivedAt: iso(s.lastReceivedAt),
    unresolvedAlerts: d.alerts.unresolvedCount(s.ref.machine),
  });
  let stored: { at: number; machines: Awaited<ReturnType<SensorStore['listMachines']>> } | null = null;
  const storedMachines = async () => {
    const now = d.clock.now();
    if (!stored || now - stored.at > STORED_LIST_TTL_MS) stored = { at: now, machines: await d.store.listMachines() };
    return stored.machines;
  };

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/machines',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['machines'],
        querystring: ListQuery,
        response: {
          200: Type.Object({
            items: Type.Array(Summary),
            total: Type.Integer({ description: 'machines matching q, of which items is one page' }),
          }),
          ...errors(...READ_ERRORS, 502),
        },
      },
    },
    async (req) => {
      type Row = Parameters<typeof summary>[0];
      const rows = new Map<string, Row>();
      for (const s of d.scoring.states()) rows.set(s.ref.machine, s);
      let fromStore: Awaited<ReturnType<SensorStore['listMachines']>> = [];
      try {
        fromStore = await storedMachines();
      } catch (err) {
        if (rows.size === 0) throw new VigilError('VGL_STORE_QUERY', `cannot list machines: ${errorMessage(err)}`);
      }
      for (const m of fromStore) {
        if (!rows.has(m.ref.machine))
          rows.set(m.ref.machine, {
            ref: m.ref,
            kind: null,
            status: 'not_seen_since_start' as MachineState['status'],
            detail: null,
            score: null,
            health: null,
            healthDetail: null,
            lastSeenTs: m.lastTs ?? 0,
            lastReceivedAt: null,
          });
      }
      const q = req.query.q?.toLowerCase();
      const kind = req.query.kind;
      const matching = [...rows.values()].filter(
        (r) =>
          (!q || `${r.ref.machine}\u0000${r.ref.line}\u0000${r.ref.site}`.toLowerCase().includes(q)) && (!kind || r.kind?.kind === kind),
      );
      const byName = (a: Row, b: Row) => a.ref.machine.localeCompare(b.ref.machine);
      const compare =
        req.query.sort === 'name'
          ? byName
          : req.query.sort === 'line'
            ? (a: Row, b: Row) => a.ref.site.localeCompare(b.ref.site) || a.ref.line.localeCompare(b.ref.line) || byName(a, b)
            : // Riskiest first: by p(failure), then (where a kind has only a health model) by the lowest health.
              (a: Row, b: Row) =>
                (b.score?.probability ?? -1) - (a.score?.probability ?? -1) ||
                (a.health?.index ?? 101) - (b.health?.index ?? 101) ||
                byName(a, b);
      matching.sort(compare);
      const page = matching.slice(req.query.offset, req.query.offset + req.query.limit);
      return { items: page.map(summary), total: matching.length };
    },
  );

  app.get<{ Params: Static<typeof MachineParams> }>(
    '/machines/:machine',
    {
      config: { role: 'viewer' },
      schema: { tags: ['machines'], params: MachineParams, response: { 200: Detail, ...errors(...READ_ERRORS, 404) } },
    },
    async (req) => {
      const s = d.scoring.machine(req.params.machine);
      if (!s)
        throw new VigilError(
          'VGL_NOT_FOUND',
          `machine ${req.params.machine} has sent nothing since the daemon started (or is beyond ingest.maxMachines)`,
        );
      return {
        ...summary(s),
        sensors: d.describe?.(s.ref.machine, Object.keys(s.latest)) ?? {},
        alertThreshold: d.threshold?.(s.ref.machine) ?? null,
        latest: Object.fromEntries(Object.entries(s.latest).map(([k, v]) => [k, { value: v.value, ts: iso(v.ts)! }])),
        history: d.scoring
          .history(s.ref.machine, -Infinity, Infinity, 100)
          .map((h) => ({ dataTs: iso(h.dataTs)!, probability: h.probability, rulSteps: h.rulSteps, model: h.model })),
        healthHistory: d.scoring
          .healthHistory(s.ref.machine, -Infinity, Infinity, 100)
          .map((h) => ({ dataTs: iso(h.dataTs)!, index: h.index, model: h.model })),
        alerts: d.alerts.list({ machine: s.ref.machine, limit: 20 }).map(alertJson),
      };
    },
  );

  app.get<{ Params: Static<typeof MachineParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/machines/:machine/scores',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['machines'],
        params: MachineParams,
        querystring: HistoryQuery,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({
                dataTs: Type.String(),
                scoredAt: Type.String(),
                probability: Type.Number(),
                rulSteps: Type.Number(),
                model: Type.String(),
              }),
            ),
          }),
          ...errors(...READ_ERRORS),
        },
      },
    },
    async (req) => {
      const now = d.clock.now();
      const from = parseTimeParam('from', req.query.from, -Infinity, now);
      const to = parseTimeParam('to', req.query.to, Infinity, now);
      return {
        items: d.scoring
          .history(req.params.machine, from, to, req.query.limit)
          .map((h) => ({ dataTs: iso(h.dataTs)!, scoredAt: iso(h.at)!, probability: h.probability, rulSteps: h.rulSteps, model: h.model })),
      };
    },
  );

  app.get<{ Params: Static<typeof MachineParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/machines/:machine/health',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['machines'],
        description: "the machine's health index over time (100 = like its kind's normal; an anomaly alert opens below its threshold)",
        params: MachineParams,
        querystring: HistoryQuery,
        response: { 200: Type.Object({ items: Type.Array(HealthPoint) }), ...errors(...READ_ERRORS) },
      },
    },
    async (req) => {
      const now = d.clock.now();
      const from = parseTimeParam('from', req.query.from, -Infinity, now);
      const to = parseTimeParam('to', req.query.to, Infinity, now);
      return {
        items: d.scoring
          .healthHistory(req.params.machine, from, to, req.query.limit)
          .map((h) => ({ dataTs: iso(h.dataTs)!, scoredAt: iso(h.at)!, index: h.index, score: h.score, model: h.model })),
      };
    },
  );

  app.get<{ Params: Static<typeof MachineParams>; Querystring: Static<typeof HistoryQuery> }>(
    '/machines/:machine/events',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['machines'],
        params: MachineParams,
        querystring: HistoryQuery,
        response: {
          200: Type.Object({
            items: Type.Array(
              Type.Object({ ts: Type.String(), type: Type.String(), component: Nullable(Type.String()), note: Nullable(Type.String()) }),
            ),
          }),
          ...errors(...READ_ERRORS, 502, 503),
        },
      },
    },
    async (req) => {
      const now = d.clock.now();
      const from = parseTimeParam('from', req.query.from, 0, now);
      const to = parseTimeParam('to', req.query.to, now + 86_400_000, now);
      const events = await d.reads.run(`events of ${req.params.machine}`, async () => {
        try {
          return await d.store.queryEvents({ machine: req.params.machine, from, to });
        } catch (err) {
          throw new VigilError('VGL_STORE_QUERY', `events of ${req.params.machine}: ${errorMessage(err)}`);
        }
      });
      return {
        items: events
          .sort((a, b) => b.ts - a.ts)
          .slice(0, req.query.limit)
          .map((e) => ({ ts: iso(e.ts)!, type: e.type, component: e.component ?? null, note: e.note ?? null })),
      };
    },
  );

  app.get<{ Params: Static<typeof MachineParams>; Querystring: Static<typeof ReadingsQuery> }>(
    '/machines/:machine/readings',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['machines'],
        params: MachineParams,
        querystring: ReadingsQuery,
        response: {
          200: Type.Object({
            machine: Type.String(),
            from: Type.String(),
            to: Type.String(),
            everyMs: Nullable(Type.Integer()),
            truncated: Type.Boolean({ description: 'always false: a range with more samples than `points` comes as bucket means' }),
            points: Type.Array(Type.Object({ ts: Type.String(), values: Type.Record(Type.String(), Type.Number()) })),
          }),
          ...errors(...READ_ERRORS, 502, 503),
        },
      },
    },
    async (req) => {
      const now = d.clock.now();
      const to = parseTimeParam('to', req.query.to, now, now);
      const from = parseTimeParam('from', req.query.from, to - 3_600_000, now);
      if (!(from < to)) throw new VigilError('VGL_BAD_REQUEST', 'from must be before to');
      const machine = req.params.machine;
      const sensors = req.query.sensors
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const maxPoints = req.query.points;
      // Buckets widen until the answer fits `points`: a year at 1 Hz stays a light response.
      const widest = Math.ceil((to - from) / maxPoints);
      const { every, samples } = await d.reads.run(`readings of ${machine}`, async () => {
        try {
          if (req.query.every === undefined) {
            // Raw samples while they fit; one more than fits says the range needs buckets.
            const raw = await d.store.queryReadings({ machine, from, to, sensors, limit: maxPoints + 1 });
            if (raw.length <= maxPoints) return { every: null, samples: raw };
          }
          const bucket = Math.max(req.query.every ?? 1, widest);
          return { every: bucket, samples: await d.store.aggregateReadings({ machine, from, to, sensors }, bucket) };
        } catch (err) {
          throw new VigilError('VGL_STORE_QUERY', `readings of ${machine}: ${errorMessage(err)}`);
        }
      });
      return {
        machine,
        from: iso(from)!,
        to: iso(to)!,
        everyMs: every,
        truncated: false,
        points: samples.map((s) => ({ ts: iso(s.ts)!, values: s.values })),
      };
    },
  );
}
