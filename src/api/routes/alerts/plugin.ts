import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  AlertNotFoundError,
  AlertStateError,
  AlertVerdictError,
  type Alert,
  type AlertStore,
  type AlertEngine,
  type AlertEvent,
} from '../../../alerts/index.js';
import type { MachineEvent } from '../../../core/types.js';
import type { Clock } from '../../../core/clock.js';
import { VigilError } from '../../../core/errors.js';
import { AlertQualitySchema, qualityJson } from '../../status-model.js';
import { AlertSchema, IdParams, Nullable, READ_ERRORS, WRITE_ERRORS, errors, iso, parseTimeParam } from '../../schemas.js';
import { alertJson, ListQuery, QualityQuery, NoteBody, StreamQuery, DeliveryQuery } from './schemas.js';

export interface AlertRouteDeps {
  store: AlertStore;
  engine: AlertEngine;
  clock: Clock;
  writesPerMinute: number;
  /** Seconds between SSE keep-alive comments (proxies close idle streams). */
  heartbeatMs?: number;
  /** Bytes a stream client may leave unread before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number;
  /** Open streams and clients dropped for falling behind, for the status. */
  stats?: { streams: number; dropped: number };
  /** A `failure` verdict records a failure event through the same durable path as MQTT events. */
  submitEvent?: (e: MachineEvent) => Promise<void>;
}

/** Alerts: list with filters and paging, detail, acknowledge, resolve, quality, deliveries, SSE stream. */
export function alertRoutes(app: FastifyInstance, d: AlertRouteDeps): void {
  const write = { role: 'operator' as const, rateLimit: { max: d.writesPerMinute, timeWindow: 60_000 } };
  const mapErrors = (fn: () => AlertEvent) => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof AlertNotFoundError) throw new VigilError('VGL_NOT_FOUND', err.message);
      if (err instanceof AlertStateError) throw new VigilError('VGL_CONFLICT', err.message);
      if (err instanceof AlertVerdictError) throw new VigilError('VGL_BAD_REQUEST', err.message);
      throw err;
    }
  };

  app.get<{ Querystring: Static<typeof ListQuery> }>(
    '/alerts',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        querystring: ListQuery,
        response: { 200: Type.Object({ items: Type.Array(AlertSchema), nextBefore: Nullable(Type.Integer()) }), ...errors(...READ_ERRORS) },
      },
    },
    async (req) => {
      const items = d.store.list(req.query);
      return { items: items.map(alertJson), nextBefore: items.length === req.query.limit ? items[items.length - 1]!.id : null };
    },
  );

  app.get<{ Querystring: Static<typeof QualityQuery> }>(
    '/alerts/quality',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        description: 'How failure-risk alerts fared: live failures only (backfilled history is not counted), over the period given',
        querystring: QualityQuery,
        response: { 200: AlertQualitySchema, ...errors(...READ_ERRORS) },
      },
    },
    async (req) => {
      const now = d.clock.now();
      const from = req.query.from === undefined ? undefined : parseTimeParam('from', req.query.from, 0, now);
      const to = req.query.to === undefined ? undefined : parseTimeParam('to', req.query.to, now, now);
      if (from !== undefined && to !== undefined && !(from < to)) throw new VigilError('VGL_BAD_REQUEST', 'from must be before to');
      return qualityJson(d.store.figures.over({ from, to }));
    },
  );

  app.post(
    '/alerts/quality/reset',
    {
      config: write,
      schema: {
        tags: ['alerts'],
        description:
          'Quality figures count afresh from now (after a commissioning, a backfill, a model change); older records stay readable with ?from=',
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: AlertQualitySchema, ...errors(...WRITE_ERRORS) },
      },
    },
    async () => {
      d.store.figures.reset(d.clock.now());
      return qualityJson(d.store.figures.over());
    },
  );

  app.get<{ Querystring: Static<typeof DeliveryQuery> }>(
    '/notifications',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        querystring: DeliveryQuery,
        response: {
          200: Type.Object({
            counts: Type.Record(Type.String(), Type.Integer()),
            items: Type.Array(
              Type.Object({
                id: Type.Integer(),
                eventId: Type.Integer(),
                channel: Type.String(),
                state: Type.String(),
                attempts: Type.Integer(),
                nextAttemptAt: Type.String(),
                lastError: Nullable(Type.String()),
                deliveredAt: Nullable(Type.String()),
              }),
            ),
          }),
          ...errors(...READ_ERRORS),
        },
      },
    },
    async (req) => ({
      counts: d.store.deliveries.counts(),
      items: d.store.deliveries
        .list(req.query)
        .map((x) => ({ ...x, nextAttemptAt: iso(x.nextAttemptAt)!, deliveredAt: iso(x.deliveredAt) })),
    }),
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/alerts/:id',
    {
      config: { role: 'viewer' },
      schema: { tags: ['alerts'], params: IdParams, response: { 200: AlertSchema, ...errors(...READ_ERRORS, 404) } },
    },
    async (req) => {
      const a = d.store.get(req.params.id);
      if (!a) throw new VigilError('VGL_NOT_FOUND', `alert ${req.params.id} does not exist`);
      return alertJson(a);
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof NoteBody> }>(
    '/alerts/:id/ack',
    {
      config: write,
      schema: { tags: ['alerts'], params: IdParams, body: NoteBody, response: { 200: AlertSchema, ...errors(...WRITE_ERRORS) } },
    },
    async (req) => {
      const verdict = req.body?.verdict;
      const alert = mapErrors(() => d.engine.acknowledge(req.params.id, req.principal.name, req.body?.note ?? null, verdict)).alert;
      if (verdict === 'failure') await recordFailure(alert, req.principal.name, req.body?.note);
      return alertJson(d.store.get(alert.id) ?? alert);
    },
  );

  app.post<{ Params: Static<typeof IdParams>; Body: Static<typeof NoteBody> }>(
    '/alerts/:id/resolve',
    {
      config: write,
      schema: { tags: ['alerts'], params: IdParams, body: NoteBody, response: { 200: AlertSchema, ...errors(...WRITE_ERRORS) } },
    },
    async (req) => {
      const verdict = req.body?.verdict;
      const alert = mapErrors(() => d.engine.resolve(req.params.id, req.principal.name, req.body?.note ?? null, verdict)).alert;
      if (verdict === 'failure') await recordFailure(alert, req.principal.name, req.body?.note);
      return alertJson(d.store.get(alert.id) ?? alert);
    },
  );

  /** A `failure` verdict: the failure, at the alert's latest data, labels training data like any failure event. */
  async function recordFailure(alert: Alert, by: string, note: string | undefined): Promise<void> {
    if (!d.submitEvent) return;
    const ts = Number(alert.details.dataTs ?? d.clock.now());
    await d.submitEvent({
      machine: alert.machine,
      ts,
      type: 'failure',
      note: [note, `verdict on alert ${alert.id} by ${by}`].filter(Boolean).join(' — '),
    });
  }

  // Open streams: ended when the server closes, so a close (or a bench that is done) is not held open by them.
  const streams = new Set<import('node:http').ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  const maxBuffered = d.maxBufferedBytes ?? 1 << 20;

  app.get<{ Querystring: Static<typeof StreamQuery> }>(
    '/alerts/stream',
    {
      config: { role: 'viewer' },
      schema: {
        tags: ['alerts'],
        querystring: StreamQuery,
        description:
          'Server-Sent Events: one `alert` event per change; resumes after Last-Event-ID. A client that falls more than a megabyte behind is dropped (it resumes where it was with Last-Event-ID).',
      },
    },
    (req, reply) => {
      const header = req.headers['last-event-id'];
      let last = req.query.after ?? (typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : d.store.events.lastId());
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      streams.add(res);
      if (d.stats) d.stats.streams = streams.size;
      let dropped = false;
      const drop = (why: string) => {
        if (dropped) return;
        dropped = true;
        if (d.stats) d.stats.dropped++;
        req.log.warn(
          { lastEventId: last, buffered: res.writableLength, why },
          'SSE client too slow; dropped (it resumes with Last-Event-ID)',
        );
        res.destroy();
      };
      /** Writes one frame; a client whose unread backlog passes the bound is dropped instead of growing memory. */
      const write = (frame: string): boolean => {
        if (dropped || res.destroyed) return false;
        res.write(frame);
        if (res.writableLength > maxBuffered) {
          drop('write buffer over its bound');
          return false;
        }
        return true;
      };
      const send = (ev: AlertEvent) => {
        if (ev.id <= last) return;
        if (
          write(
            `id: ${ev.id}\nevent: alert\ndata: ${JSON.stringify({ id: ev.id, type: ev.type, at: iso(ev.at), alert: alertJson(ev.alert) })}\n\n`,
          )
        )
          last = ev.id;
      };
      // Live events wait until the backlog is out, so nothing arrives twice or out of order.
      const queued: AlertEvent[] = [];
      let replaying = true;
      const onEvent = (ev: AlertEvent) => {
        if (!replaying) return send(ev);
        queued.push(ev);
        if (queued.length > 10_000) drop('too many live events while its backlog was replayed');
      };
      d.engine.on('event', onEvent);
      const heartbeat = setInterval(() => write(': keep-alive\n\n'), d.heartbeatMs ?? 15_000);
      heartbeat.unref();
      res.on('close', () => {
        clearInterval(heartbeat);
        d.engine.off('event', onEvent);
        streams.delete(res);
        if (d.stats) d.stats.streams = streams.size;
      });
      write('retry: 3000\n\n');
      // The backlog in pages, each written only once the client has read the one before.
      void (async () => {
        for (
          let batch = d.store.events.after(last, 100);
          batch.length > 0 && !dropped && !res.destroyed;
          batch = d.store.events.after(last, 100)
        ) {
          batch.forEach(send);
          if (res.writableNeedDrain) await new Promise((r) => res.once('drain', r).once('close', r));
        }
        replaying = false;
        queued.forEach(send);
        queued.length = 0;
      })();
    },
  );
}
