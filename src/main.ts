import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { AlertStore } from './alerts/alert-store.js';
import { AlertEngine } from './alerts/engine.js';
import { MqttAlertNotifier } from './alerts/notifiers/mqtt.js';
import type { Notifier } from './alerts/notifiers/notifier.js';
import { WebhookNotifier } from './alerts/notifiers/webhook.js';
import { Outbox } from './alerts/outbox.js';
import { QualityMonitor } from './alerts/quality.js';
import { buildMetrics } from './api/metrics.js';
import { buildApi } from './api/server.js';
import type { Readiness, Status } from './api/status-model.js';
import type { VigilConfig } from './config/schema.js';
import { systemClock, type Clock, type TimerHandle } from './core/clock.js';
import { errorMessage } from './core/errors.js';
import type { Logger } from './core/logger.js';
import type { BatchSink, IngestBatch } from './core/types.js';
import { LAG_RESOLUTION_MS, buildStatus, metricsSnapshot, type StatusParts } from './daemon-status.js';
import { MessageDecoder } from './ingest/decoder.js';
import { EmbeddedBroker } from './ingest/embedded-broker.js';
import { FleetCap } from './ingest/fleet-cap.js';
import { compileTopicPattern } from './ingest/topics.js';
import { MqttSubscriber } from './ingest/mqtt-subscriber.js';
import { IngestPipeline } from './ingest/pipeline.js';
import { IngestStats } from './ingest/stats.js';
import { InferenceClient } from './scoring/inference-client.js';
import { ScoringService } from './scoring/service.js';
import { BatchWriter } from './journal/batch-writer.js';
import { createSensorStore } from './store/create.js';
import { SqliteDeadLetterLog } from './ingest/dead-letter-log.js';
import { DurableQueue } from './journal/durable-queue.js';
import { Journal } from './journal/journal.js';
import type { SensorStore } from './core/sensor-store.js';
import { openVigilState } from './state.js';
import { buildScheduler } from './scheduler/build.js';
import type { EnergyAccountant } from './scheduler/energy/accountant.js';
import type { EnergyScheduler } from './scheduler/scheduler.js';
import type { PlantBusySignal } from './scheduler/sources/host.js';
import { TrainingManager } from './training/manager.js';
import { ModelRegistry } from './registry/registry.js';

/**
 * The composition root: builds every stage from the validated config, starts them in data-path
 * order and stops them in reverse. Nothing else constructs stages.
 */
export class Daemon {
  readonly stats: IngestStats;
  readonly store: SensorStore;
  readonly fleet: FleetCap;
  private readonly streams = { streams: 0, dropped: 0 };
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
  private inference: InferenceClient | null = null;
  scoring: ScoringService | null = null;
  alertStore: AlertStore | null = null;
  alerts: AlertEngine | null = null;
  private outbox: Outbox | null = null;
  training: TrainingManager | null = null;
  private lag: IntervalHistogram | null = null;
  private timers: TimerHandle[] = [];
  private running = false;
  httpUrl = '';
  mqttUrl = '';

  constructor(
    readonly config: VigilConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.stats = new IngestStats(clock);
    this.store = createSensorStore(config, { thread: true });
    this.fleet = new FleetCap(config.ingest.maxMachines);
  }

  async start(): Promise<void> {
    const cfg = this.config;
    this.startedAt = this.clock.now();
    this.lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    this.lag.enable();
    this.stateDb = openVigilState(path.join(cfg.dataDir, 'vigil.db'));
    this.registry = new ModelRegistry(cfg.learning.modelsDir);
    this.deadLetters = new SqliteDeadLetterLog(this.stateDb, cfg.ingest.deadLetterLimit);

    await this.openStore();

    const decoder = new MessageDecoder({
      telemetryTopics: cfg.mqtt.topics.telemetry,
      eventTopics: cfg.mqtt.topics.events,
      format: cfg.mqtt.format,
      maxPayloadBytes: cfg.ingest.maxPayloadBytes,
      maxFutureSkewMs: cfg.ingest.maxFutureSkew,
      maxAgeMs: cfg.ingest.maxAge,
      allowMachines: cfg.ingest.allowMachines,
      lineProtocolPrecision: cfg.ingest.lineProtocolPrecision,
      // Samples are encoded for InfluxDB as they arrive (and on read-back), while their payload is at hand.
      keepValueText: this.store.usesValueText === true,
    });
    this.journal = Journal.open(
      {
        dir: cfg.journal.dir,
        maxBytes: cfg.journal.maxBytes,
        segmentBytes: cfg.journal.segmentBytes,
        fsyncIntervalMs: cfg.journal.fsyncInterval,
        // Messages are journalled as they arrived; reading one back decodes it as it was decoded then.
        decodeMessage: (topic, payload, receivedAt) => decoder.decode(topic, payload, receivedAt).batch,
      },
      this.clock,
      this.log.child({ component: 'journal' }),
    );
    this.writer = new BatchWriter(this.store, this.journal, this.clock, this.log.child({ component: 'writer' }), {
      batchSize: cfg.writer.batchSize,
      flushIntervalMs: cfg.writer.flushInterval,
      maxPendingSamples: cfg.writer.maxPendingSamples,
      maxPendingBytes: cfg.writer.maxPendingBytes,
      retryInitialMs: cfg.writer.retryInitial,
      retryMaxMs: cfg.writer.retryMax,
    });
    // Whatever the last run journalled but did not commit is read back first.
    this.writer.resumeFromJournal();
    this.writer.start();
    this.queue = new DurableQueue(this.journal, this.writer, this.clock, this.log.child({ component: 'queue' }));

    this.startAlerts();
    await this.startScoring();
    this.training = new TrainingManager(cfg, this.stateDb, this.clock, this.log.child({ component: 'training' }));
    this.training.onPromoted(() => this.refreshChampion());
    this.startScheduler();
    const sink = this.observingSink(this.queue);

    this.api = await buildApi({
      status: { status: () => this.status(), readiness: () => this.readiness() },
      deadLetters: this.deadLetters,
      logger: this.log,
      auth: { anonymousRead: cfg.api.anonymousRead, tokens: cfg.api.tokens, writesPerMinute: cfg.api.writesPerMinute, bodyLimit: cfg.api.bodyLimit },
      metrics: buildMetrics(() => metricsSnapshot(this.statusParts())),
      machines: { scoring: this.scoring!, store: this.store, alerts: this.alertStore!, clock: this.clock },
      events: {
        submit: async (e) => {
          this.stats.eventsAccepted++;
          this.fleet.admit(e.machine.machine);
          await sink.accept({ samples: [], events: [e] });
        },
        locate: (id) => this.scoring?.machine(id)?.ref ?? null,
        check: (machine, item, now) => decoder.checkEvent(machine, item, now),
        clock: this.clock,
      },
      alerts: { store: this.alertStore!, engine: this.alerts!, clock: this.clock, stats: this.streams },
      models: { registry: this.registry, championChanged: () => this.refreshChampion() },
      training: { training: this.training, request: async (by) => (await this.scheduler?.request(by)) ?? null },
      energy: {
        scheduler: this.scheduler!,
        accountant: this.energy!,
        config: { ...cfg.schedule, currency: cfg.schedule.tariff.currency },
        now: () => this.clock.now(),
      },
    });
    const address = await this.api.listen({ host: cfg.http.host, port: cfg.http.port });
    this.httpUrl = address;
    this.log.info({ url: address, docs: `${address}/docs` }, 'HTTP API listening');

    if (this.journal.stats.depth > 0) this.log.info({ records: this.journal.stats.depth }, 'committing what the last run left in the journal');

    if (cfg.mqtt.url) {
      this.mqttUrl = cfg.mqtt.url;
    } else {
      const e = cfg.mqtt.embedded;
      this.broker = new EmbeddedBroker(
        {
          host: e.host,
          port: e.port,
          users: e.users,
          allowAnonymous: e.allowAnonymous,
          maxPacketBytes: e.maxPacketBytes,
          retained: e.retained,
          selfClientId: cfg.mqtt.clientId,
          reservedTopics: [compileTopicPattern(cfg.notify.mqtt.alertTopic).filter, cfg.notify.mqtt.statusTopic],
        },
        this.log.child({ component: 'broker' }),
      );
      await this.broker.start();
      this.mqttUrl = this.broker.url;
    }
    // On the embedded broker Vigil's connection carries credentials made for this run only.
    const own = this.broker?.selfCredentials;

    const pipeline = new IngestPipeline(decoder, sink, this.deadLetters, this.stats, this.clock, this.fleet);
    this.subscriber = new MqttSubscriber(
      {
        url: this.mqttUrl,
        clientId: cfg.mqtt.clientId,
        username: own?.username ?? cfg.mqtt.username,
        password: own?.password ?? cfg.mqtt.password,
        tls: cfg.mqtt.tls,
        qos: cfg.mqtt.qos,
        keepalive: cfg.mqtt.keepalive,
        reconnectMinMs: cfg.mqtt.reconnectMin,
        reconnectMaxMs: cfg.mqtt.reconnectMax,
        filters: decoder.filters,
        statusTopic: cfg.notify.mqtt.enabled ? cfg.notify.mqtt.statusTopic : undefined,
        signals: cfg.schedule.plantBusy.topic && this.plantBusy ? { [cfg.schedule.plantBusy.topic]: (p) => this.plantBusy!.update(p, this.clock.now()) } : undefined,
        ackBatch: {
          begin: () => {
            this.journal!.deferWrites = true;
          },
          end: () => {
            this.journal!.deferWrites = false;
            this.journal!.flushPending();
          },
        },
      },
      pipeline,
      this.clock,
      this.log.child({ component: 'mqtt' }),
    );
    this.subscriber.start();
    this.outbox!.start();
    this.scheduler!.start();
    this.every(cfg.alerts.checkInterval, () => this.alerts?.checkQualityInSlices());
    this.every(60_000, () => this.lag?.reset());
    // Lag is the running daemon's: start-up work (schemas compiled, the journal opened) is not counted.
    this.lag.reset();
    this.running = true;
  }

  /** Stops in reverse order within the configured time; uncommitted data stays in the journal. */
  async stop(): Promise<void> {
    const deadline = this.clock.now() + this.config.shutdown.timeout;
    const left = () => Math.max(0, deadline - this.clock.now());
    this.running = false;
    for (const t of this.timers) this.clock.clearInterval(t);
    this.clock.clearTimeout(this.storeRetry);
    await this.scheduler?.stop();
    await this.training?.stop();
    // Before the subscriber: a message held back by backpressure must not keep it waiting.
    this.queue?.close();
    await this.subscriber?.stop();
    await this.broker?.stop();
    this.scoring?.stop();
    await this.inference?.close();
    this.outbox?.stop();
    if (this.writer) {
      const flushed = await this.writer.flush(Math.max(0, left() - 1000));
      if (!flushed) this.log.warn({ pendingSamples: this.writer.stats.pendingSamples }, 'store did not take everything before shutdown; the rest stays in the journal');
      this.writer.stop();
    }
    this.journal?.close();
    await this.store.close();
    await this.api?.close();
    this.stateDb?.close();
    this.lag?.disable();
    this.log.info('stopped');
  }

  /**
   * Not fatal when it fails: the journal holds everything and the writer retries (each write retry
   * also tries to open it). Until it opens, readiness says why, and it is tried again with backoff.
   */
  private storeOpenError: string | null = null;
  private storeRetry: TimerHandle = undefined;
  private async openStore(delayMs = 1000): Promise<void> {
    try {
      await this.store.open();
      if (this.storeOpenError) this.log.info({ store: this.config.store.kind }, 'sensor store opened');
      this.storeOpenError = null;
    } catch (err) {
      const first = this.storeOpenError === null;
      this.storeOpenError = errorMessage(err);
      if (first) this.log.error({ err, store: this.config.store.kind }, 'sensor store cannot be opened; buffering in the journal and trying again');
      this.storeRetry = this.clock.setTimeout(() => void this.openStore(Math.min(delayMs * 2, 60_000)), delayMs);
      if (typeof this.storeRetry === 'object') this.storeRetry.unref?.();
    }
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.running) reasons.push('starting');
    if (this.storeOpenError) reasons.push(`sensor store cannot be opened: ${this.storeOpenError}`);
    if (this.subscriber && !this.subscriber.stats.subscribed) reasons.push('not subscribed to the MQTT broker');
    if (this.writer?.stats.state === 'down') reasons.push(`sensor store unavailable: ${this.writer.stats.lastError ?? ''}`.trim());
    if (this.queue?.backpressure.active) reasons.push('backpressure: journal at its cap');
    return { ready: reasons.length === 0, reasons };
  }

  private startAlerts(): void {
    const cfg = this.config;
    const notifiers: Notifier[] = cfg.notify.webhooks.map((w) => new WebhookNotifier({ name: w.name, url: w.url, secret: w.secret, timeoutMs: w.timeout }, () => this.clock.now()));
    // The publisher is looked up at delivery time: the MQTT connection starts after the outbox exists.
    const publisher = { publish: (topic: string, payload: string, o: { qos: 0 | 1; retain: boolean }) => this.subscriber?.publish(topic, payload, o) ?? Promise.reject(new Error('MQTT not started')) };
    this.alertStore = new AlertStore(this.stateDb!, [...notifiers.map((n) => n.channel), ...(cfg.notify.mqtt.enabled ? ['mqtt'] : [])]);
    if (cfg.notify.mqtt.enabled) notifiers.push(new MqttAlertNotifier(publisher, cfg.notify.mqtt.alertTopic, (m) => this.alertStore!.list({ state: 'unresolved', machine: m, limit: 100 })));
    const a = cfg.alerts;
    const quality = new QualityMonitor({
      staleAfterMs: a.staleAfter,
      sensorStaleAfterMs: a.sensorStaleAfter,
      flatlineAfterMs: a.flatlineAfter,
      flatlineMinReadings: a.flatlineMinReadings,
      ranges: a.ranges,
      backfillAgeMs: cfg.ingest.backfillAge,
      maxSensorsPerMachine: cfg.ingest.maxSensorsPerMachine,
    }, this.fleet);
    this.quality = quality;
    this.alerts = new AlertEngine(
      this.alertStore,
      quality,
      {
        ...a.risk,
        high: a.risk.high ?? null,
        lateFailureGraceMs: cfg.learning.horizon * cfg.learning.step,
        backfillAgeMs: cfg.ingest.backfillAge,
        silentMachinesSummary: a.silentMachinesSummary,
      },
      this.clock,
      this.log.child({ component: 'alerts' }),
    );
    this.outbox = new Outbox(this.alertStore, notifiers, this.clock, this.log.child({ component: 'outbox' }), {
      retryInitialMs: cfg.notify.retryInitial,
      retryMaxMs: cfg.notify.retryMax,
      maxAttempts: cfg.notify.maxAttempts,
    });
    this.alerts.on('event', () => this.outbox?.kick());
  }

  private quality: QualityMonitor | null = null;
  private plantBusy: PlantBusySignal | null = null;
  scheduler: EnergyScheduler | null = null;
  energy: EnergyAccountant | null = null;

  private startScheduler(): void {
    const built = buildScheduler(this.config, {
      db: this.stateDb!,
      store: this.store,
      training: this.training!,
      registry: this.registry!,
      clock: this.clock,
      log: this.log,
    });
    Object.assign(this, { scheduler: built.scheduler, energy: built.accountant, plantBusy: built.plantBusy });
  }


  private async startScoring(): Promise<void> {
    const cfg = this.config;
    this.inference = new InferenceClient(cfg.learning.backend, undefined, { kernel: cfg.learning.lstmKernel, threads: cfg.learning.kernelThreads });
    this.scoring = new ScoringService(this.inference, this.stateDb!, this.clock, this.log.child({ component: 'scoring' }), {
      intervalMs: cfg.scoring.interval,
      maxBatch: cfg.scoring.maxBatch,
      topSensors: cfg.scoring.topSensors,
      historyRetentionMs: cfg.scoring.historyRetention,
      stepMs: cfg.learning.step,
      windowSteps: cfg.learning.window,
      maxGapSteps: cfg.learning.maxGapSteps,
      maxSensorsPerMachine: cfg.ingest.maxSensorsPerMachine,
    }, cfg.learning.modelsDir, this.fleet);
    this.scoring.onScore((machine, score, threshold) => this.alerts?.onScore({ machine, ...score }, threshold));
    this.refreshChampion();
    try {
      await this.scoring.seed(this.store);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'could not read recent readings to seed scoring; windows fill from live data');
    }
    if (!cfg.scoring.enabled) return;
    this.scoring.start();
    // Promotions by the CLI or another process show up here without a restart.
    this.every(cfg.scoring.championPoll, () => this.refreshChampion());
  }

  private refreshChampion(): void {
    if (!this.registry || !this.scoring) return;
    try {
      const version = this.registry.championVersion();
      if (version === this.scoring.championVersion) return;
      this.scoring.setChampion(version ? { version, meta: this.registry.meta(version) } : null);
      this.log.info({ version }, 'champion changed');
    } catch (err) {
      this.log.error({ err: errorMessage(err) }, 'cannot read the champion; scoring keeps the current one');
    }
  }

  /** Accepted data goes to the durable queue first; scoring and alerts see it once it is safe. */
  private observingSink(queue: DurableQueue): BatchSink {
    const observe = (batch: IngestBatch, receivedAt: number) => {
      try {
        this.scoring?.observe(batch, receivedAt);
        for (const s of batch.samples) this.quality?.observe(s, receivedAt);
        for (const e of batch.events) this.alerts?.onMachineEvent(e, receivedAt);
      } catch (err) {
        // Observers must never cost the data: it is already durable.
        this.log.error({ err: errorMessage(err) }, 'scoring/alerts failed to observe a batch');
      }
    };
    return {
      accept: (batch, source) => {
        const receivedAt = source?.receivedAt ?? this.clock.now();
        const pending = queue.accept(batch, source);
        if (pending) return pending.then(() => observe(batch, receivedAt));
        observe(batch, receivedAt);
      },
    };
  }

  /** A periodic job whose failure is logged, never thrown into a timer (that would end the daemon). */
  private every(ms: number, fn: () => void): void {
    const t = this.clock.setInterval(() => {
      try {
        fn();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'periodic job failed; it runs again at its next interval');
      }
    }, ms);
    if (typeof t === 'object' && t?.unref) t.unref();
    this.timers.push(t);
  }

  private statusParts(): StatusParts {
    return {
      config: this.config,
      now: this.clock.now(),
      startedAt: this.startedAt,
      stats: this.stats,
      store: this.store,
      writer: this.writer,
      journal: this.journal,
      queue: this.queue,
      subscriber: this.subscriber,
      broker: this.broker,
      mqttUrl: this.mqttUrl,
      registry: this.registry,
      scoring: this.scoring,
      alerts: this.alertStore,
      engine: this.alerts,
      quality: this.quality,
      fleet: this.fleet,
      streams: this.streams,
      training: this.training,
      lag: this.lag,
      energy: this.energy,
      scheduler: this.scheduler,
    };
  }

  status(): Status {
    return buildStatus(this.statusParts());
  }
}
