import path from 'node:path';
import type Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { buildApi } from './api/server.js';
import type { Readiness, Status, StatusSource } from './api/status-model.js';
import type { VigilConfig } from './config/schema.js';
import { systemClock, type Clock } from './core/clock.js';
import { errorMessage } from './core/errors.js';
import type { Logger } from './core/logger.js';
import { MessageDecoder } from './ingest/decoder.js';
import { EmbeddedBroker } from './ingest/embedded-broker.js';
import { MqttSubscriber } from './ingest/mqtt-subscriber.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { IngestStats } from './ingest/stats.js';
import { BatchWriter } from './store/batch-writer.js';
import { SqliteDeadLetterLog } from './store/dead-letters.js';
import { DurableQueue } from './store/durable-queue.js';
import { Journal } from './store/journal.js';
import type { SensorStore } from './store/sensor-store.js';
import { createSensorStore } from './store/create.js';
import { ModelRegistry } from './training/registry.js';
import { openStateDb } from './store/state-db.js';
import { VERSION } from './version.js';

/**
 * The composition root: builds every stage from the validated config, starts them in data-path
 * order and stops them in reverse. Nothing else constructs stages.
 */
export class Daemon {
  readonly stats: IngestStats;
  readonly store: SensorStore;
  private stateDb: Database.Database | null = null;
  private journal: Journal | null = null;
  writer: BatchWriter | null = null;
  private queue: DurableQueue | null = null;
  private broker: EmbeddedBroker | null = null;
  private subscriber: MqttSubscriber | null = null;
  private api: FastifyInstance | null = null;
  private deadLetters: SqliteDeadLetterLog | null = null;
  private startedAt = 0;
  private registry: ModelRegistry | null = null;
  private running = false;
  httpUrl = '';
  mqttUrl = '';

  constructor(
    readonly config: VigilConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.stats = new IngestStats(clock);
    this.store = createSensorStore(config);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.startedAt = this.clock.now();
    this.stateDb = openStateDb(path.join(cfg.dataDir, 'vigil.db'));
    this.registry = new ModelRegistry(cfg.learning.modelsDir);
    this.deadLetters = new SqliteDeadLetterLog(this.stateDb, cfg.ingest.deadLetterLimit);

    try {
      await this.store.open();
    } catch (err) {
      // Not fatal: the journal holds everything and the writer keeps retrying until the store is back.
      this.log.error({ err: errorMessage(err), store: cfg.store.kind }, 'sensor store unavailable at start; buffering in the journal');
    }

    this.journal = Journal.open(
      { dir: cfg.journal.dir, maxBytes: cfg.journal.maxBytes, segmentBytes: cfg.journal.segmentBytes, fsyncIntervalMs: cfg.journal.fsyncInterval },
      this.clock,
      this.log.child({ component: 'journal' }),
    );
    this.writer = new BatchWriter(this.store, this.journal, this.clock, this.log.child({ component: 'writer' }), {
      batchSize: cfg.writer.batchSize,
      flushIntervalMs: cfg.writer.flushInterval,
      maxPendingSamples: cfg.writer.maxPendingSamples,
      retryInitialMs: cfg.writer.retryInitial,
      retryMaxMs: cfg.writer.retryMax,
    });
    // Whatever the last run journalled but did not commit is read back first.
    this.writer.resumeFromJournal();
    this.writer.start();
    this.queue = new DurableQueue(this.journal, this.writer, this.clock, this.log.child({ component: 'queue' }));

    this.api = buildApi({ status: this.statusSource(), deadLetters: this.deadLetters, logger: this.log });
    const address = await this.api.listen({ host: cfg.http.host, port: cfg.http.port });
    this.httpUrl = address;
    this.log.info({ url: address }, 'HTTP API listening');

    if (this.journal.stats.depth > 0) this.log.info({ records: this.journal.stats.depth }, 'committing what the last run left in the journal');

    if (cfg.mqtt.url) {
      this.mqttUrl = cfg.mqtt.url;
    } else {
      this.broker = new EmbeddedBroker(cfg.mqtt.embedded.host, cfg.mqtt.embedded.port, this.log.child({ component: 'broker' }));
      await this.broker.start();
      this.mqttUrl = this.broker.url;
    }

    const decoder = new MessageDecoder({
      telemetryTopics: cfg.mqtt.topics.telemetry,
      eventTopics: cfg.mqtt.topics.events,
      format: cfg.mqtt.format,
      maxPayloadBytes: cfg.ingest.maxPayloadBytes,
      maxFutureSkewMs: cfg.ingest.maxFutureSkew,
      maxAgeMs: cfg.ingest.maxAge,
      allowMachines: cfg.ingest.allowMachines,
      lineProtocolPrecision: cfg.ingest.lineProtocolPrecision,
    });
    const pipeline = new IngestPipeline(decoder, this.queue, this.deadLetters, this.stats, this.clock);
    this.subscriber = new MqttSubscriber(
      {
        url: this.mqttUrl,
        clientId: cfg.mqtt.clientId,
        username: cfg.mqtt.username,
        password: cfg.mqtt.password,
        tls: cfg.mqtt.tls,
        qos: cfg.mqtt.qos,
        keepalive: cfg.mqtt.keepalive,
        reconnectMinMs: cfg.mqtt.reconnectMin,
        reconnectMaxMs: cfg.mqtt.reconnectMax,
        filters: decoder.filters,
      },
      pipeline,
      this.clock,
      this.log.child({ component: 'mqtt' }),
    );
    this.subscriber.start();
    this.running = true;
  }

  /** Stops in reverse order within the configured time; uncommitted data stays in the journal. */
  async stop(): Promise<void> {
    const deadline = this.clock.now() + this.config.shutdown.timeout;
    const left = () => Math.max(0, deadline - this.clock.now());
    this.running = false;
    await this.subscriber?.stop();
    await this.broker?.stop();
    if (this.writer) {
      const flushed = await this.writer.flush(Math.max(0, left() - 1000));
      if (!flushed) this.log.warn({ pendingSamples: this.writer.stats.pendingSamples }, 'store did not take everything before shutdown; the rest stays in the journal');
      this.writer.stop();
    }
    this.journal?.close();
    await this.store.close();
    await this.api?.close();
    this.stateDb?.close();
    this.log.info('stopped');
  }

  private statusSource(): StatusSource {
    return { status: () => this.status(), readiness: () => this.readiness() };
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.running) reasons.push('starting');
    if (this.subscriber && !this.subscriber.stats.subscribed) reasons.push('not subscribed to the MQTT broker');
    if (this.writer?.stats.state === 'down') reasons.push(`sensor store unavailable: ${this.writer.stats.lastError ?? ''}`.trim());
    if (this.queue?.backpressure.active) reasons.push('backpressure: journal at its cap');
    return { ready: reasons.length === 0, reasons };
  }

  private modelStatus(): Status['model'] {
    const none = { champion: null, createdAt: null, prAuc: null, f1: null, rulRmse: null, trainedOn: null, versions: 0, error: null };
    if (!this.registry) return none;
    try {
      const version = this.registry.championVersion();
      const versions = this.registry.versions().length;
      if (!version) return { ...none, versions };
      const m = this.registry.meta(version);
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

  status(): Status {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const s = this.stats;
    const w = this.writer?.stats;
    const j = this.journal?.stats;
    const conn = this.subscriber?.stats;
    return {
      version: VERSION,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((this.clock.now() - this.startedAt) / 1000),
      ingest: {
        messagesReceived: s.messagesReceived,
        messagesAccepted: s.messagesAccepted,
        messagesRejected: s.messagesRejected,
        readingsAccepted: s.readingsAccepted,
        eventsAccepted: s.eventsAccepted,
        messagesPerSecond: s.messageRate.perSecond(),
        readingsPerSecond: s.readingRate.perSecond(),
        rejectedByReason: { ...s.rejectedByReason } as Record<string, number>,
      },
      store: {
        kind: this.store.kind,
        state: w?.state ?? 'up',
        samplesStored: w?.samplesStored ?? 0,
        readingsStored: w?.readingsStored ?? 0,
        eventsStored: w?.eventsStored ?? 0,
        readingsPerSecond: this.writer?.storeRate.perSecond() ?? 0,
        pendingSamples: w?.pendingSamples ?? 0,
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
        maxBytes: this.config.journal.maxBytes,
        segments: j?.segments ?? 0,
        corruptRecords: j?.corruptRecords ?? 0,
        catchingUp: w?.catchingUp ?? false,
        backpressure: this.queue?.backpressure.active ?? false,
        backpressureEpisodes: this.queue?.backpressure.episodes ?? 0,
      },
      model: this.modelStatus(),
      broker: {
        mode: this.config.mqtt.url ? 'external' : 'embedded',
        url: conn?.url ?? this.mqttUrl,
        connected: conn?.connected ?? false,
        subscribed: conn?.subscribed ?? false,
        since: iso(conn?.since ?? null),
        connects: conn?.connects ?? 0,
        lastError: conn?.lastError ?? null,
        ...(this.broker ? { embeddedClients: this.broker.clients } : {}),
      },
    };
  }
}
