import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/logger.js';
import { registerAuth, type AuthOptions } from './auth.js';
import { registerDocs } from './docs.js';
import { ErrorBody } from './schemas.js';
import { clientErrorHandler, frameworkErrors, registerErrorHandling, registerJsonBodies } from './errors.js';
import { registerValidation } from './validation.js';
import { metricsRoute } from './metrics.js';
import { alertRoutes, type AlertRouteDeps } from './routes/alerts/plugin.js';
import { deadLetterRoutes, type DeadLetterSource } from './routes/dead-letters.js';
import { energyRoutes, type EnergyRouteDeps } from './routes/energy.js';
import { federationRoutes, type FederationRouteDeps } from './routes/federation.js';
import { eventRoutes, type EventRouteDeps } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { machineRoutes, type MachineRouteDeps } from './routes/machines/plugin.js';
import { modelRoutes, type ModelRouteDeps } from './routes/models/plugin.js';
import { statusRoutes } from './routes/status.js';
import { trainingRoutes, type TrainingRouteDeps } from './routes/training.js';
import { uiRoutes } from './routes/ui.js';
import type { StatusSource } from './status-model.js';

/** Every resource of the API is under this prefix; a breaking change gets a new one. */
export const API_PREFIX = '/api/v1';

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
  federation: FederationRouteDeps;
}

/** Builds the HTTP API (not yet listening), so tests can drive it with `inject`. */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // Per-request lines would drown the ingest logs on a busy gateway; errors are still logged.
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.auth.bodyLimit,
    // Requests Node's HTTP parser refuses (headers too large, malformed) get Vigil's envelope too.
    clientErrorHandler,
    // So do URLs the router refuses before any route sees them (a path parameter over 100 characters).
    frameworkErrors,
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
  // A route with a path parameter can answer 414 (frameworkErrors): its OpenAPI entry says so.
  app.addHook('onRoute', (route) => {
    const response = route.schema?.response as Record<string, unknown> | undefined;
    if (route.url.includes(':') && response && !(414 in response)) response[414] = ErrorBody;
  });
  await registerDocs(app);
  // Only routes that ask for it (writes) are limited; reads and probes never are.
  await app.register(rateLimit, { global: false });
  registerAuth(app, deps.auth);
  const writesPerMinute = deps.auth.writesPerMinute;
  // Probes, /metrics and the page sit at the root, where load balancers and Prometheus expect them.
  healthRoutes(app, deps.status);
  metricsRoute(app, deps.metrics);
  // The resources: each its own plugin under the version prefix, so what one adds (hooks, decorators)
  // stays its own; auth, validation and the error envelope registered above reach them all.
  const resources: Array<(api: FastifyInstance) => void> = [
    (api) => statusRoutes(api, deps.status),
    (api) => deadLetterRoutes(api, deps.deadLetters),
    (api) => machineRoutes(api, deps.machines),
    (api) => eventRoutes(api, { ...deps.events, writesPerMinute }),
    (api) => alertRoutes(api, { ...deps.alerts, writesPerMinute }),
    (api) => modelRoutes(api, { ...deps.models, writesPerMinute }),
    (api) => trainingRoutes(api, { ...deps.training, writesPerMinute }),
    (api) => energyRoutes(api, deps.energy),
    (api) => federationRoutes(api, deps.federation),
  ];
  for (const routes of resources) await app.register(async (api) => routes(api), { prefix: API_PREFIX });
  await uiRoutes(app);
  return app;
}
