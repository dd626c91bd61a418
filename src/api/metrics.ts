import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { StageReport } from '../core/stage-report.js';

/**
 * A Prometheus registry of the stages' own metrics (their reports), read at scrape time: no
 * bookkeeping on hot paths. Counters are absolute totals kept by the stages; reset + inc sets them
 * without a second tally.
 */
export function buildMetrics(reports: () => readonly StageReport[]): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'vigil_process_' });
  const made = new Map<string, Counter | Gauge>();
  const original = registry.metrics.bind(registry);
  registry.metrics = async () => {
    for (const report of reports()) {
      for (const m of report.metrics ?? []) {
        let metric = made.get(m.name);
        if (!metric) {
          const o = { name: m.name, help: m.help, labelNames: [...(m.labelNames ?? [])], registers: [registry] };
          metric = m.type === 'counter' ? new Counter(o) : new Gauge(o);
          made.set(m.name, metric);
        }
        metric.reset();
        const value = m.read();
        if (value === null) continue;
        const set = (labels: Record<string, string>, v: number) =>
          metric instanceof Counter ? metric.inc(labels, v) : metric.set(labels, v);
        if (typeof value === 'number') set({}, value);
        else for (const [labels, v] of value) set(labels, v);
      }
    }
    return original();
  };
  return registry;
}

export function metricsRoute(app: FastifyInstance, registry: Registry): void {
  app.get('/metrics', { config: { role: 'viewer' }, schema: { hide: true } }, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(body);
  });
}
