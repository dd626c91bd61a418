import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../../core/clock.js';
import { VigilError } from '../../core/errors.js';
import { MACHINE_EVENT_TYPES, type MachineEvent, type MachineRef } from '../../core/types.js';
import { TimeQuery, WRITE_ERRORS, errors, iso, parseTimeParam } from '../schemas.js';

const Name = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^/#+\\s]+$' });
const EventBody = Type.Object(
  {
    machine: Name,
    site: Type.Optional(Name),
    line: Type.Optional(Name),
    type: Type.Union(MACHINE_EVENT_TYPES.map((t) => Type.Literal(t))),
    ts: Type.Optional(TimeQuery),
    component: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    note: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);

export interface EventRouteDeps {
  /** The same durable path as MQTT events: journalled, stored, seen by scoring and alerts. */
  submit(event: MachineEvent): Promise<void>;
  /** Where the machine sits when the technician gives only its id. */
  locate(machine: string): MachineRef | null;
  clock: Clock;
  writesPerMinute: number;
}

/** Technicians record failures, maintenance, repairs and notes; failures label training data and close alerts. */
export function eventRoutes(app: FastifyInstance, d: EventRouteDeps): void {
  app.post<{ Body: Static<typeof EventBody> }>(
    '/api/v1/events',
    {
      config: { role: 'operator', rateLimit: { max: d.writesPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['events'],
        body: EventBody,
        response: { 201: Type.Object({ machine: Type.Object({ site: Type.String(), line: Type.String(), machine: Type.String() }), type: Type.String(), ts: Type.String(), recordedBy: Type.String() }), ...errors(...WRITE_ERRORS) },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const now = d.clock.now();
      const ts = parseTimeParam('ts', b.ts, now, now);
      if (ts > now + 5 * 60_000) throw new VigilError('VGL_BAD_REQUEST', 'ts lies more than 5 minutes in the future');
      const known = d.locate(b.machine);
      const machine: MachineRef = { site: b.site ?? known?.site ?? 'default', line: b.line ?? known?.line ?? 'default', machine: b.machine };
      const note = [b.note, `recorded by ${req.principal.name}`].filter(Boolean).join(' — ');
      await d.submit({ machine, ts, type: b.type, ...(b.component ? { component: b.component } : {}), note });
      return reply.status(201).send({ machine, type: b.type, ts: iso(ts)!, recordedBy: req.principal.name });
    },
  );
}
