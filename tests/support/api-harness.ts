import { scoringHistories } from './model-meta.js';
import { federationView } from '../../src/federation/report.js';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { AlertEngine } from '../../src/alerts/engine.js';
import { MessageDecoder } from '../../src/ingest/decoder.js';
import { QualityMonitor } from '../../src/alerts/quality.js';
import { hashToken } from '../../src/api/auth.js';
import { buildMetrics } from '../../src/api/metrics.js';
import { buildApi } from '../../src/api/server.js';
import type { Readiness, Status } from '../../src/api/status-model.js';
import { EventLoopLag } from '../../src/core/event-loop.js';
import { silentLogger } from '../../src/core/logger.js';
import { FleetCap } from '../../src/ingest/fleet-cap.js';
import { ingestReport } from '../../src/ingest/report.js';
import { IngestStats } from '../../src/ingest/stats.js';
import type { MachineEvent } from '../../src/core/types.js';
import { InferenceClient } from '../../src/scoring/inference-client.js';
import { ScoringService } from '../../src/scoring/service.js';
import { SqliteDeadLetterLog } from '../../src/ingest/dead-letter-log.js';
import { SqliteSensorStore } from '../../src/store/sqlite-store.js';
import { openVigilState } from '../../src/state.js';
import type { TrainingRunRecord } from '../../src/training/manager.js';
import { TrainingBusyError } from '../../src/training/manager.js';
import { ModelRegistry } from '../../src/registry/registry.js';
import { EnergyAccountant } from '../../src/scheduler/energy/accountant.js';
import { tempDir } from './fixtures.js';
import { ManualClock } from './manual-clock.js';
import { ReadGate } from '../../src/api/read-gate.js';

export const TOKENS = {
  viewer: 'viewer-token-0123456789',
  operator: 'operator-token-0123456789',
  admin: 'admin-token-0123456789',
} as const;
export const auth = (role: keyof typeof TOKENS) => ({ authorization: `Bearer ${TOKENS[role]}` });

/** A training source that records triggers instead of starting workers: the API is under test here. */
export class RecordingTraining {
  runs: TrainingRunRecord[] = [];
  busy = false;
  list(limit: number) {
    return this.runs.slice(-limit).reverse();
  }
  get(id: number) {
    return this.runs.find((r) => r.id === id) ?? null;
  }
  trigger(o: { trigger: 'api' | 'schedule' | 'cli'; requestedBy?: string | null; kind?: string; bypassEnergyPolicy?: boolean }) {
    if (this.busy) throw new TrainingBusyError(this.runs.length);
    const run: TrainingRunRecord = {
      id: this.runs.length + 1,
      trigger: o.trigger,
      requestedBy: o.requestedBy ?? null,
      kind: o.kind ?? null,
      role: 'failure',
      state: 'running',
      startedAt: 0,
      finishedAt: null,
      version: null,
      promoted: null,
      reason: null,
      error: null,
      progress: null,
      bypassedEnergyPolicy: o.bypassEnergyPolicy ?? false,
    };
    this.runs.push(run);
    this.busy = true;
    return run;
  }
  cancel(id: number) {
    return this.busy && id === this.runs.length;
  }
}

export interface Harness {
  app: FastifyInstance;
  clock: ManualClock;
  alerts: AlertStore;
  engine: AlertEngine;
  store: SqliteSensorStore;
  submitted: MachineEvent[];
  training: RecordingTraining;
  registry: ModelRegistry;
  scoring: ScoringService;
  requests: string[];
  energy: EnergyAccountant;
  deadLetters: SqliteDeadLetterLog;
  /** Alert stream clients: open, and dropped for falling behind. */
  streams: { streams: number; dropped: number };
  /** The gate in front of the store's expensive reads. */
  reads: ReadGate;
  close(): Promise<void>;
}

export async function apiHarness(
  o: {
    anonymousRead?: boolean;
    writesPerMinute?: number;
    status?: Status;
    readiness?: Readiness;
    sseMaxBufferedBytes?: number;
    heavyReads?: { concurrency: number; maxQueued: number };
  } = {},
): Promise<Harness> {
  const streams = { streams: 0, dropped: 0 };
  const clock = new ManualClock();
  const db = openVigilState(':memory:');
  const alerts = new AlertStore(db, ['webhook:ops']);
  const quality = new QualityMonitor({
    staleAfterMs: 60_000,
    sensorStaleAfterMs: 120_000,
    flatlineAfterMs: 600_000,
    flatlineMinReadings: 10,
    ranges: [],
    backfillAgeMs: 3_600_000,
  });
  const engine = new AlertEngine(
    alerts,
    quality,
    {
      high: 0.7,
      low: 0.3,
      openAfter: 2,
      closeAfter: 2,
      criticalProbability: 0.9,
      criticalRul: 10,
      lateFailureGraceMs: 0,
      backfillAgeMs: 3_600_000,
      silentMachinesSummary: 25,
      stepMs: 60_000,
    },
    clock,
    silentLogger(),
  );
  const store = new SqliteSensorStore(path.join(tempDir('vigil-api-'), 'sensors.db'));
  await store.open();
  const inference = new InferenceClient('cpu');
  const scoring = new ScoringService(
    inference,
    scoringHistories(db, 86_400_000),
    clock,
    silentLogger(),
    { intervalMs: 1000, maxBatch: 16, topSensors: 3, stepMs: 1000, windowSteps: 5, maxGapSteps: 2 },
    tempDir(),
  );
  const registry = new ModelRegistry(tempDir('vigil-api-models-'));
  const training = new RecordingTraining();
  const submitted: MachineEvent[] = [];
  // The reports the daemon's stages give /metrics, from real counters set to known values.
  const ingestStats = new IngestStats(clock);
  ingestStats.messagesAccepted = 5;
  ingestStats.messagesRejected = 1;
  ingestStats.readingsAccepted = 50;
  ingestStats.countRejections([{ reason: 'bad_json', detail: 'x' }]);
  const lag = new EventLoopLag();
  lag.read = () => ({ p50: 1, p99: 2, max: 3 });
  const reports = [ingestReport(ingestStats, new FleetCap(10)), lag.report()];
  const deadLetters = new SqliteDeadLetterLog(db, 3);
  // The daemon's rules for events (a year back, five minutes ahead), as MQTT applies them.
  const decoder = new MessageDecoder({
    telemetryTopics: ['vigil/{site}/{line}/{machine}/telemetry'],
    eventTopics: ['vigil/{site}/{line}/{machine}/events'],
    format: 'auto',
    maxPayloadBytes: 65_536,
    maxFutureSkewMs: 300_000,
    maxAgeMs: 365 * 86_400_000,
    allowMachines: [],
    lineProtocolPrecision: 'ms',
  });
  const requests: string[] = [];
  const energy = new EnergyAccountant(db, clock, silentLogger(), {
    wattsPerCore: 10,
    raplDir: '/nonexistent',
    gpu: 'off',
    fallbackIntensity: 400,
    carbon: async () => null,
    price: () => null,
    dueSince: () => null,
  });
  const reads = new ReadGate(o.heavyReads?.concurrency ?? 2, o.heavyReads?.maxQueued ?? 8);
  const app = await buildApi({
    status: { status: () => o.status ?? ({} as Status), readiness: () => o.readiness ?? { ready: true, reasons: [] } },
    deadLetters,
    federation: { view: () => federationView(null) },
    logger: silentLogger(),
    auth: {
      anonymousRead: o.anonymousRead ?? false,
      tokens: (['viewer', 'operator', 'admin'] as const).map((role) => ({ name: `${role}-user`, role, sha256: hashToken(TOKENS[role]) })),
      writesPerMinute: o.writesPerMinute ?? 1000,
      bodyLimit: 4096,
    },
    metrics: buildMetrics(() => reports),
    machines: { scoring, store, alerts, clock, reads },
    events: {
      submit: async (e) => {
        submitted.push(e);
        await store.write({ samples: [], events: [e] });
      },
      locate: (id) => scoring.machine(id)?.ref ?? null,
      check: (machine, item, now) => decoder.checkEvent(machine, item, now),
      clock,
    },
    alerts: { store: alerts, engine, clock, heartbeatMs: 50, maxBufferedBytes: o.sseMaxBufferedBytes, stats: streams },
    models: { registry },
    training: {
      training,
      request: async (by) => {
        requests.push(by);
        return {
          action: 'defer',
          reason: `requested by ${by}; deferred: 412.0 gCO2e/kWh now, 250.0 expected 02:15–02:45 UTC`,
          runId: null,
        };
      },
      kinds: async () => ['pump', 'motor'],
    },
    energy: {
      scheduler: { decisions: () => [], nextTick: () => null, lastError: null },
      accountant: energy,
      config: { enabled: true, cron: '*/10 * * * *', timezone: 'UTC', objective: 'carbon', budget: { period: 'day' }, currency: 'EUR' },
      now: () => clock.now(),
    },
  });
  await app.ready();
  return {
    app,
    clock,
    alerts,
    engine,
    store,
    submitted,
    streams,
    reads,
    training,
    registry,
    scoring,
    requests,
    energy,
    deadLetters,
    close: async () => {
      await app.close();
      await store.close();
      await inference.close();
      db.close();
    },
  };
}
