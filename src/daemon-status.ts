import type { IntervalHistogram } from 'node:perf_hooks';
import type { AlertStore } from './alerts/alert-store.js';
import type { Status } from './api/status-model.js';
import type { MetricsSnapshot } from './api/metrics.js';
import type { VigilConfig } from './config/schema.js';
import { errorMessage } from './core/errors.js';
import type { AlertEngine } from './alerts/engine.js';
import type { QualityMonitor } from './alerts/quality.js';
import { qualityJson } from './api/status-model.js';
import type { EmbeddedBroker } from './ingest/embedded-broker.js';
import type { FleetCap } from './ingest/fleet-cap.js';
import type { MqttSubscriber } from './ingest/mqtt-subscriber.js';
import type { IngestStats } from './ingest/stats.js';
import type { ScoringService } from './scoring/service.js';
import type { BatchWriter } from './journal/batch-writer.js';
import type { DurableQueue } from './journal/durable-queue.js';
import type { Journal } from './journal/journal.js';
import type { SensorStore } from './core/sensor-store.js';
import type { TrainingManager } from './training/manager.js';
import type { ModelRegistry } from './registry/registry.js';
import type { EnergyAccountant } from './scheduler/energy/accountant.js';
import type { EnergyScheduler } from './scheduler/scheduler.js';
import { VERSION } from './core/version.js';

/** The running stages, as the status endpoint and /metrics read them. */
export interface StatusParts {
  config: VigilConfig;
  now: number;
  startedAt: number;
  stats: IngestStats;
  store: SensorStore;
  writer: BatchWriter | null;
  journal: Journal | null;
  queue: DurableQueue | null;
  subscriber: MqttSubscriber | null;
  broker: EmbeddedBroker | null;
  mqttUrl: string;
  registry: ModelRegistry | null;
  scoring: ScoringService | null;
  alerts: AlertStore | null;
  engine: AlertEngine | null;
  quality: QualityMonitor | null;
  fleet: FleetCap;
  streams: { streams: number; dropped: number };
  training: TrainingManager | null;
  lag: IntervalHistogram | null;
  energy: EnergyAccountant | null;
  scheduler: EnergyScheduler | null;
}

/** Per-machine series in /metrics: the highest risks only, so a fleet of tens of thousands is not as many series per scrape. */
export const MAX_MACHINE_SERIES = 1000;

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** Sampling period of the event-loop monitor; each sample includes it, so it is taken off. */
export const LAG_RESOLUTION_MS = 20;

export function eventLoopLag(h: IntervalHistogram | null): { p50: number; p99: number; max: number } {
  if (!h || h.count === 0) return { p50: 0, p99: 0, max: 0 };
  const ms = (ns: number) => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
  return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
}

function modelStatus(registry: ModelRegistry | null): Status['model'] {
  const none = { champion: null, createdAt: null, prAuc: null, f1: null, rulRmse: null, trainedOn: null, versions: 0, error: null };
  if (!registry) return none;
  try {
    const version = registry.championVersion();
    const versions = registry.versions().length;
    if (!version) return { ...none, versions };
    const m = registry.meta(version);
    return {
      champion: version,
      createdAt: m.createdAt,
      prAuc: m.metrics.validation.classification.prAuc,
      f1: m.metrics.validation.classification.f1,
      rulRmse: m.metrics.validation.rul.rmse,
      trainedOn: m.training.backend,
      versions,
      error: null,
    };
  } catch (err) {
    return { ...none, error: errorMessage(err) };
  }
}

export function buildStatus(p: StatusParts): Status {
  const s = p.stats;
  const w = p.writer?.stats;
  const j = p.journal?.stats;
  const conn = p.subscriber?.stats;
  const machines = p.scoring?.counts() ?? { machines: 0, scored: 0 };
  const counts = p.alerts?.countsByState() ?? { open: 0, acknowledged: 0, resolved: 0 };
  const running = p.training?.running ?? null;
  const last = p.training?.list(2).find((r) => r.state !== 'running') ?? null;
  return {
    version: VERSION,
    startedAt: new Date(p.startedAt).toISOString(),
    uptimeSeconds: Math.round((p.now - p.startedAt) / 1000),
    ingest: {
      messagesReceived: s.messagesReceived,
      messagesAccepted: s.messagesAccepted,
      messagesRejected: s.messagesRejected,
      readingsAccepted: s.readingsAccepted,
      eventsAccepted: s.eventsAccepted,
      messagesPerSecond: s.messageRate.perSecond(),
      readingsPerSecond: s.readingRate.perSecond(),
      rejectedByReason: { ...s.rejectedByReason } as Record<string, number>,
      lateReadings: p.scoring?.stats.lateReadings ?? 0,
      backfillReadings: p.quality?.stats.backfillReadings ?? 0,
      machinesTracked: p.fleet.stats.tracked,
      maxMachines: p.fleet.max,
      untrackedMessages: p.fleet.stats.untrackedMessages,
    },
    store: {
      kind: p.store.kind,
      state: w?.state ?? 'up',
      samplesStored: w?.samplesStored ?? 0,
      readingsStored: w?.readingsStored ?? 0,
      eventsStored: w?.eventsStored ?? 0,
      readingsPerSecond: p.writer?.storeRate.perSecond() ?? 0,
      pendingSamples: w?.pendingSamples ?? 0,
      pendingBytes: w?.pendingBytes ?? 0,
      commits: w?.commits ?? 0,
      commitFailures: w?.commitFailures ?? 0,
      storeRejections: w?.storeRejections ?? 0,
      lastStoreRejection: w?.lastStoreRejection ?? null,
      lastCommitAt: iso(w?.lastCommitAt ?? null),
      lastCommitMs: w?.lastCommitMs ?? null,
      downSince: iso(w?.downSince ?? null),
      lastError: w?.lastError ?? null,
    },
    journal: {
      depth: j?.depth ?? 0,
      bytes: j?.bytes ?? 0,
      maxBytes: p.config.journal.maxBytes,
      segments: j?.segments ?? 0,
      corruptRecords: j?.corruptRecords ?? 0,
      damagedRegions: j?.damagedRegions ?? 0,
      bytesSkipped: j?.bytesSkipped ?? 0,
      recordsLost: j?.recordsLost ?? 0,
      redecodeMismatches: j?.redecodeMismatches ?? 0,
      catchingUp: w?.catchingUp ?? false,
      backpressure: p.queue?.backpressure.active ?? false,
      backpressureEpisodes: p.queue?.backpressure.episodes ?? 0,
    },
    model: modelStatus(p.registry),
    broker: {
      mode: p.config.mqtt.url ? 'external' : 'embedded',
      url: conn?.url ?? p.mqttUrl,
      connected: conn?.connected ?? false,
      subscribed: conn?.subscribed ?? false,
      since: iso(conn?.since ?? null),
      connects: conn?.connects ?? 0,
      lastError: conn?.lastError ?? null,
      unacknowledged: conn?.unacknowledged ?? 0,
      fastPathMessages: conn?.fastPathMessages ?? 0,
      ...(p.broker ? { embeddedClients: p.broker.clients, embeddedRefused: { ...p.broker.stats.refused } as Record<string, number> } : {}),
    },
    scoring: {
      enabled: p.config.scoring.enabled,
      champion: p.scoring?.championVersion ?? null,
      machines: machines.machines,
      machinesScored: machines.scored,
      scoresTotal: p.scoring?.stats.scored ?? 0,
      scoresWithMissingInputs: p.scoring?.stats.scoredWithMissingInputs ?? 0,
      lastBatchMs: p.scoring?.stats.lastBatchMs ?? null,
      lastBatchSize: p.scoring?.stats.lastBatchSize ?? 0,
      errors: p.scoring?.stats.errors ?? 0,
      lastError: p.scoring?.stats.lastError ?? null,
      eventLoopLagMs: eventLoopLag(p.lag),
    },
    alerts: {
      ...counts,
      quality: qualityJson(p.alerts?.quality() ?? { period: { from: null, to: null }, truePositives: 0, falseAlarms: 0, missedFailures: 0, precision: null, recall: null, meanLeadMs: null }),
      backfillFailures: p.engine?.counters.backfillFailures ?? 0,
      backfillScores: p.engine?.counters.backfillScores ?? 0,
      streams: p.streams.streams,
      streamClientsDropped: p.streams.dropped,
      deliveries: p.alerts?.deliveryCounts() ?? { pending: 0, delivered: 0, dead: 0 },
    },
    training: {
      running: running && { id: running.id, startedAt: iso(running.startedAt)!, progress: running.progress },
      lastRun: last && { id: last.id, state: last.state, finishedAt: iso(last.finishedAt), version: last.version, promoted: last.promoted, error: last.error },
      scheduled: p.config.schedule.enabled,
    },
  };
}

export function metricsSnapshot(p: StatusParts): MetricsSnapshot {
  const st = buildStatus(p);
  const unresolvedByKind = p.alerts?.unresolvedCountsByKind() ?? {};
  const trainingRunsByState: Record<string, number> = {};
  for (const r of p.training?.list(1000) ?? []) trainingRunsByState[r.state] = (trainingRunsByState[r.state] ?? 0) + 1;
  return {
    messages: { accepted: st.ingest.messagesAccepted, rejected: st.ingest.messagesRejected },
    readingsAccepted: st.ingest.readingsAccepted,
    lateReadings: st.ingest.lateReadings,
    backfillReadings: st.ingest.backfillReadings,
    machinesTracked: st.ingest.machinesTracked,
    untrackedMessages: st.ingest.untrackedMessages,
    rejectsByReason: st.ingest.rejectedByReason,
    journal: { depth: st.journal.depth, bytes: st.journal.bytes },
    store: { commits: st.store.commits, commitFailures: st.store.commitFailures, lastCommitMs: st.store.lastCommitMs, pendingSamples: st.store.pendingSamples, pendingBytes: st.store.pendingBytes, up: st.store.state === 'up' },
    scoring: { scored: st.scoring.scoresTotal, scoredWithMissingInputs: st.scoring.scoresWithMissingInputs, batches: p.scoring?.stats.batches ?? 0, errors: st.scoring.errors, lastBatchMs: st.scoring.lastBatchMs, machines: st.scoring.machines },
    eventLoopLagMs: st.scoring.eventLoopLagMs,
    alertsByState: { open: st.alerts.open, acknowledged: st.alerts.acknowledged, resolved: st.alerts.resolved },
    unresolvedByKind,
    deliveriesByState: st.alerts.deliveries,
    trainingRunsByState,
    machineScores: (p.scoring?.topScores(MAX_MACHINE_SERIES) ?? []).map((m) => ({ ...m.ref, probability: m.score.probability, rulSeconds: m.score.rulMs / 1000 })),
    ...(p.energy ? { energy: energySnapshot(p.energy, p.scheduler) } : {}),
  };
}

function energySnapshot(acc: EnergyAccountant, scheduler: EnergyScheduler | null): NonNullable<MetricsSnapshot['energy']> {
  const runs = acc.list(100_000);
  const decisionsByAction = scheduler?.decisionCounts() ?? {};
  return {
    joulesTotal: runs.reduce((s, r) => s + r.joules, 0),
    gCO2eTotal: runs.reduce((s, r) => s + r.gCO2e, 0),
    avoidedGCO2eTotal: runs.reduce((s, r) => s + (r.avoidedGCO2e ?? 0), 0),
    runsMeasured: runs.length,
    decisionsByAction,
  };
}
