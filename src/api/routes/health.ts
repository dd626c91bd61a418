import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { StatusSource } from '../status-model.js';

/** Liveness (the process answers) and readiness (broker subscribed, store reachable, journal replayed). */
export function healthRoutes(app: FastifyInstance, source: StatusSource): void {
  app.get('/healthz', { schema: { response: { 200: Type.Object({ ok: Type.Literal(true) }) } } }, async () => ({ ok: true as const }));

  const Readiness = Type.Object({ ready: Type.Boolean(), reasons: Type.Array(Type.String()) });
  app.get('/readyz', { schema: { response: { 200: Readiness, 503: Readiness } } }, async (_req, reply) => {
    const r = source.readiness();
    return reply.status(r.ready ? 200 : 503).send(r);
  });
}
