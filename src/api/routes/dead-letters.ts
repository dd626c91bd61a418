import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { REJECT_REASONS } from '../../core/reasons.js';
import type { StoredDeadLetter } from '../../ingest/index.js';

const Query = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    reason: Type.Optional(Type.Union(Object.keys(REJECT_REASONS).map((r) => Type.Literal(r)))),
  },
  { additionalProperties: false },
);

const DeadLetter = Type.Object({
  id: Type.Integer(),
  receivedAt: Type.String({ format: 'date-time' }),
  topic: Type.String(),
  accepted: Type.Integer(),
  rejections: Type.Array(Type.Object({ reason: Type.String(), detail: Type.String() })),
  excerpt: Type.String(),
});

export interface DeadLetterSource {
  list(options: { limit: number; reason?: string }): StoredDeadLetter[];
}

/** The newest refused messages with their reasons, for integrators debugging a bridge. */
export function deadLetterRoutes(app: FastifyInstance, source: DeadLetterSource): void {
  app.get<{ Querystring: Static<typeof Query> }>(
    '/dead-letters',
    { config: { role: 'viewer' }, schema: { querystring: Query, response: { 200: Type.Object({ items: Type.Array(DeadLetter) }) } } },
    async (req) => ({
      items: source
        .list({ limit: req.query.limit, reason: req.query.reason })
        .map((d) => ({ ...d, receivedAt: new Date(d.receivedAt).toISOString() })),
    }),
  );
}
