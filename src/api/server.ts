import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../core/logger.js';
import { registerErrorHandling } from './errors.js';
import { deadLetterRoutes, type DeadLetterSource } from './routes/dead-letters.js';
import { healthRoutes } from './routes/health.js';
import { statusRoutes } from './routes/status.js';
import type { StatusSource } from './status-model.js';

export interface ApiDeps {
  status: StatusSource;
  deadLetters: DeadLetterSource;
  logger: Logger;
}

/** Builds the HTTP API (not yet listening), so tests can drive it with `inject`. */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    // Per-request lines would drown the ingest logs on a busy gateway; errors are still logged.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  registerErrorHandling(app);
  healthRoutes(app, deps.status);
  statusRoutes(app, deps.status);
  deadLetterRoutes(app, deps.deadLetters);
  return app;
}
