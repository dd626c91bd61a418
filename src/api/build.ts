import { liveRegimeShare } from '../scheduler/need.js';
import { ANY_KIND } from '../core/kinds.js';
import { storeKinds, type KindGroup } from '../features/kinds.js';
import type { FastifyInstance } from 'fastify';
import type { AlertStage } from '../alerts/build.js';
import type { VigilConfig } from '../config/schema.js';
import type { SensorMetadata } from '../core/sensor-metadata.js';
import type { SensorStore } from '../core/sensor-store.js';
import type { IngestStage } from '../ingest/build.js';
import type { MessageDecoder } from '../ingest/decoder.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { BuiltScheduler } from '../scheduler/build.js';
import type { FederationGateway } from '../federation/gateway.js';
import { federationView } from '../federation/report.js';
import type { ScoringStage } from '../scoring/build.js';
import type { TrainingManager } from '../training/manager.js';
import type { Lifecycle } from '../core/lifecycle.js';
import { VERSION } from '../core/version.js';
import { buildMetrics } from './metrics.js';
import { ReadGate, readGateReport } from './read-gate.js';
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
}

/**
 * The HTTP API, listening. Status, readiness and /metrics are what the stages reported as they were
 * built (`life.reports`); readiness also says `starting` until everything runs.
 */
export async function buildHttp(
  config: VigilConfig,
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
  // Listing the store's machines is a heavy query on a large fleet and the page polls kinds: a copy
  // serves for 30 s, unless machines came since (their kinds may be new).
  let kindsCopy: { at: number; machines: number; kinds: Promise<KindGroup[]> } | null = null;
  const kinds = (): Promise<KindGroup[]> => {
    const now = clock.now();
    const machines = scoring.counts().machines;
    if (!kindsCopy || now - kindsCopy.at > 30_000 || kindsCopy.machines !== machines) {
      const fresh = storeKinds(d.store, config.machines);
      kindsCopy = { at: now, machines, kinds: fresh };
      // A failed read is not kept: the next request tries again.
      fresh.catch(() => (kindsCopy = null));
    }
    return kindsCopy.kinds;
  };
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
    alerts: { store: d.alerts.store, engine: d.alerts.engine, clock, stats: streams },
    models: {
      registry: d.registry,
      liveRegimeShare: async (norm, kind) => {
        // A kind's model is judged on its own machines' data; a model from before kinds on everyone's.
        const group = kind === ANY_KIND ? null : (await kinds()).find((g) => g.kind === kind);
        return liveRegimeShare(d.store, norm, config.schedule.need.driftWindow, group ? new Set(group.machines) : undefined);
      },
      kinds,
    },
    training: {
      training: d.training,
      request: (by, kind) => d.scheduler.policy.request(by, kind),
      // Fresh: an operator asking for a new kind's first run must not be told it does not exist.
      kinds: async () => (await storeKinds(d.store, config.machines)).map((g) => g.kind),
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
