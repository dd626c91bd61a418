import type { FastifyInstance } from 'fastify';
import { StatusSchema, type StatusSource } from '../status-model.js';

export function statusRoutes(app: FastifyInstance, source: StatusSource): void {
  app.get('/status', { config: { role: 'viewer' }, schema: { response: { 200: StatusSchema } } }, async () => source.status());
}
