import type { FastifyInstance } from 'fastify';
import type { VigilConfig } from '../config/schema.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { VERSION } from '../core/version.js';
import { buildMetrics } from './metrics.js';
import { buildApi, type ApiDeps } from './server.js';
import { composeReadiness, composeStatus, streamReport, type StatusSource } from './status-model.js';

/** Status and readiness as the stages report them; readiness says `starting` until everything runs. */
export function reportedStatus(life: Lifecycle, startedAt: number, running: () => boolean): StatusSource {
  return {
    status: () => composeStatus({ version: VERSION, startedAt, now: life.clock.now() }, life.reports),
    readiness: () => {
      const r = composeReadiness(life.reports);
      return running() ? r : { ready: false, reasons: ['starting', ...r.reasons] };
    },
  };
}

export type HttpDeps = Omit<ApiDeps, 'status' | 'metrics' | 'logger' | 'auth'>;

/**
 * The HTTP API, listening. Status, readiness and /metrics are what the stages reported as they were
 * built (`life.reports`); readiness also says `starting` until everything runs.
 */
export async function buildHttp(
  config: VigilConfig,
  d: HttpDeps & { startedAt: number; running: () => boolean },
  life: Lifecycle,
): Promise<{ app: FastifyInstance; url: string; status: StatusSource }> {
  const streams = { streams: 0, dropped: 0 };
  life.report(streamReport(streams));
  const a = config.api;
  const status = reportedStatus(life, d.startedAt, d.running);
  const app = await buildApi({
    ...d,
    alerts: { ...d.alerts, stats: streams },
    status,
    metrics: buildMetrics(() => life.reports),
    logger: life.log,
    auth: { anonymousRead: a.anonymousRead, tokens: a.tokens, writesPerMinute: a.writesPerMinute, bodyLimit: a.bodyLimit },
  });
  life.release('http', () => app.close());
  const url = await app.listen({ host: config.http.host, port: config.http.port });
  life.log.info({ url, docs: `${url}/docs` }, 'HTTP API listening');
  return { app, url, status };
}
