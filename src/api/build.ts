import type { KindsOfStore } from '../features/index.js';
import type { FastifyInstance } from 'fastify';
import type { AlertStage } from '../alerts/index.js';
import type { ScheduleConfig, BuiltScheduler } from '../scheduler/index.js';
import type { ApiConfig, HttpConfig } from './config.js';
import type { SensorMetadata } from '../core/sensor-metadata.js';
import type { SensorStore } from '../core/sensor-store.js';
import type { IngestStage, MessageDecoder } from '../ingest/index.js';
import type { ModelRegistry } from '../registry/index.js';
import { type FederationGateway, federationView } from '../federation/index.js';
import type { ScoringStage } from '../scoring/index.js';
import { recipeView, type RecipeSections, type TrainingManager } from '../training/index.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { VERSION } from '../core/version.js';
import { buildMetrics } from './metrics.js';
import { ReadGate, readGateReport } from './read-gate.js';
import { buildApi, type ApiDeps } from './server.js';
import { composeReadiness, composeStatus, streamReport, type StatusSource } from './status-model.js';

/** What the HTTP API reads of the config: its own sections, the energy policy's settings and the kinds' recipes it shows. */
export interface ApiSections extends RecipeSections {
  api: ApiConfig;
  http: HttpConfig;
  schedule: ScheduleConfig;
}

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

/** The built stages the routes read and act on. */
export interface HttpSources {
  startedAt: number;
  running: () => boolean;
  deadLetters: ApiDeps['deadLetters'];
  registry: ModelRegistry;
  store: SensorStore;
  decoder: MessageDecoder;
  /** Units and ranges of sensors (config, Sparkplug BIRTH). */
  metadata: SensorMetadata;
  ingest: IngestStage;
  scoring: ScoringStage;
  alerts: AlertStage;
  training: TrainingManager;
  scheduler: BuiltScheduler;
  federation: FederationGateway | null;
  /** The store's machines by kind, from a short-lived copy. */
  kinds: KindsOfStore;
}

/**
 * The HTTP API, listening. Status, readiness and /metrics are what the stages reported as they were
 * built (`life.reports`); readiness also says `starting` until everything runs.
 */
export async function buildHttp(
  config: ApiSections,
  d: HttpSources,
  life: Lifecycle,
): Promise<{ app: FastifyInstance; url: string; status: StatusSource }> {
  const { clock } = life;
  const scoring = d.scoring.service;
  const streams = { streams: 0, dropped: 0 };
  life.report(streamReport(streams));
  const a = config.api;
  const status = reportedStatus(life, d.startedAt, d.running);
  const reads = new ReadGate(a.heavyReads.concurrency, a.heavyReads.maxQueued);
  life.report(readGateReport(reads));
  const app = await buildApi({
    deadLetters: d.deadLetters,
    machines: {
      scoring,
      store: d.store,
      reads,
      alerts: d.alerts.store,
      clock,
      describe: (machine, sensors) => d.metadata.forMachine(machine, sensors),
      threshold: (machine) => d.alerts.engine.thresholdFor(machine) ?? scoring.thresholdOf(machine),
    },
    events: {
      submit: (e) => d.ingest.submitEvent(e),
      locate: (id) => scoring.machine(id)?.ref ?? null,
      check: (m, item, now) => d.decoder.checkEvent(m, item, now),
      clock,
    },
    alerts: { store: d.alerts.store, engine: d.alerts.engine, clock, stats: streams, submitEvent: (e) => d.ingest.submitEvent(e) },
    models: {
      registry: d.registry,
      liveRegimeShare: (norm, kind) => d.scheduler.liveRegimeShare(norm, kind),
      learningNormal: (kind) => d.scheduler.policy.learningNormal(kind),
      kinds: () => d.kinds.get(),
      recipe: (kind) => recipeView(config, kind),
    },
    training: {
      training: d.training,
      request: (by, kind, role) => d.scheduler.policy.request(by, kind, role),
      // Fresh: an operator asking for a new kind's first run must not be told it does not exist.
      kinds: async () => (await d.kinds.fresh()).map((g) => g.kind),
    },
    energy: {
      scheduler: d.scheduler.policy,
      accountant: d.scheduler.accountant,
      config: { ...config.schedule, currency: config.schedule.tariff.currency },
      now: () => clock.now(),
    },
    federation: { view: () => federationView(d.federation) },
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
