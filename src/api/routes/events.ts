import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { VigilError } from '../../core/errors.js';
import { MACHINE_EVENT_TYPES, type MachineEvent, type MachineRef } from '../../core/types.js';
import { TimeQuery, WRITE_ERRORS, errors, iso, parseTimeParam } from '../schemas.js';

// The same id rule as MQTT topics (checked again by the ingest decoder, which says why).
const Name = Type.String({ minLength: 1, maxLength: 64, description: '[A-Za-z0-9_.:-], not only dots' });
const EventBody = Type.Object(
  {
    machine: Name,
    site: Type.Optional(Name),
    line: Type.Optional(Name),
    type: Type.Union(MACHINE_EVENT_TYPES.map((t) => Type.Literal(t))),
    ts: Type.Optional(TimeQuery),
    component: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export interface EventRouteDeps {
  /** The same durable path as MQTT events: journalled, stored, seen by scoring and alerts. */
  submit(event: MachineEvent): Promise<void>;
  /** The same validation as MQTT events (ids, time window, fields, allow-list): the event, or why not. */
  check(
    machine: MachineRef,
    item: { ts: number; type: string; component?: string; note?: string },
    now: number,
  ): MachineEvent | { reason: string; detail: string };
  /** Where the machine sits when the technician gives only its id. */
  locate(machine: string): MachineRef | null;
  clock: Clock;
  writesPerMinute: number;
}

/** Technicians record failures, maintenance, repairs and notes; failures label training data and close alerts. */
export function eventRoutes(app: FastifyInstance, d: EventRouteDeps): void {
  app.post<{ Body: Static<typeof EventBody> }>(
    '/events',
    {
      config: { role: 'operator', rateLimit: { max: d.writesPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['events'],
        body: EventBody,
        response: {
          201: Type.Object({
            machine: Type.Object({ site: Type.String(), line: Type.String(), machine: Type.String() }),
            type: Type.String(),
            ts: Type.String(),
            recordedBy: Type.String(),
          }),
          ...errors(...WRITE_ERRORS),
        },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = d.clock.now();
      const ts = parseTimeParam('ts', b.ts, now, now);
      const known = d.locate(b.machine);
      const machine: MachineRef = {
        site: b.site ?? known?.site ?? 'default',
        line: b.line ?? known?.line ?? 'default',
        machine: b.machine,
      };
      const note = [b.note, `recorded by ${req.principal.name}`].filter(Boolean).join(' — ');
      const checked = d.check(
        machine,
        { ts, type: b.type, ...(b.component ? { component: b.component } : {}), ...(b.note ? { note: b.note } : {}) },
        now,
      );
      if ('reason' in checked) throw new VigilError('VGL_BAD_REQUEST', `${checked.reason}: ${checked.detail}`);
      await d.submit({ ...checked, note });
      return reply.status(201).send({ machine, type: b.type, ts: iso(ts)!, recordedBy: req.principal.name });
    },
  );
}
