import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import { registerAuth, type AuthOptions } from './auth.js';
import { registerDocs } from './docs.js';
import { clientErrorHandler, registerErrorHandling, registerJsonBodies } from './errors.js';
import { registerValidation } from './validation.js';
import { metricsRoute } from './metrics.js';
import { alertRoutes, type AlertRouteDeps } from './routes/alerts.js';
import { deadLetterRoutes, type DeadLetterSource } from './routes/dead-letters.js';
import { energyRoutes, type EnergyRouteDeps } from './routes/energy.js';
import { eventRoutes, type EventRouteDeps } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { machineRoutes, type MachineRouteDeps } from './routes/machines.js';
import { modelRoutes, type ModelRouteDeps } from './routes/models.js';
import { statusRoutes } from './routes/status.js';
import { trainingRoutes, type TrainingRouteDeps } from './routes/training.js';
import { uiRoutes } from './routes/ui.js';
import type { StatusSource } from './status-model.js';

type Omitted<T> = Omit<T, 'writesPerMinute'>;

export interface ApiDeps {
  status: StatusSource;
  deadLetters: DeadLetterSource;
  logger: Logger;
  auth: AuthOptions & { writesPerMinute: number; bodyLimit: number };
  metrics: Registry;
  machines: MachineRouteDeps;
  events: Omitted<EventRouteDeps>;
  alerts: Omitted<AlertRouteDeps>;
  models: Omitted<ModelRouteDeps>;
  training: Omitted<TrainingRouteDeps>;
  energy: EnergyRouteDeps;
}

/** Builds the HTTP API (not yet listening), so tests can drive it with `inject`. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines would drown the ingest logs on a busy gateway; errors are still logged.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.auth.bodyLimit,
    // Requests Node's HTTP parser refuses (headers too large, malformed) get Vigil's envelope too.
    clientErrorHandler,
  });
  registerErrorHandling(app);
  registerJsonBodies(app);
  registerValidation(app);
  // JSON only: a text body would otherwise reach the schema as a string and fail with a vaguer error.
  app.removeContentTypeParser('text/plain');
  // Actions without options (ack, resolve, promote, trigger) may be posted with no body at all.
  app.addHook('preValidation', async (request) => {
    if (request.method === 'POST' && request.body === undefined) request.body = {};
  });
  await registerDocs(app);
  // Only routes that ask for it (writes) are limited; reads and probes never are.
  await app.register(rateLimit, { global: false });
  registerAuth(app, deps.auth);
  const writesPerMinute = deps.auth.writesPerMinute;
  healthRoutes(app, deps.status);
  statusRoutes(app, deps.status);
  deadLetterRoutes(app, deps.deadLetters);
  metricsRoute(app, deps.metrics);
  machineRoutes(app, deps.machines);
  eventRoutes(app, { ...deps.events, writesPerMinute });
  alertRoutes(app, { ...deps.alerts, writesPerMinute });
  modelRoutes(app, { ...deps.models, writesPerMinute });
  trainingRoutes(app, { ...deps.training, writesPerMinute });
  energyRoutes(app, deps.energy);
  uiRoutes(app);
  return app;
}
