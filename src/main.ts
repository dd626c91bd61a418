import path from 'node:path';
import { buildAlerts, type AlertStage } from './alerts/index.js';
import { buildHttp, reportedStatus, type Readiness, type Status, type StatusSource } from './api/index.js';
import type { VigilConfig } from './vigil-config.js';
import { systemClock, type Clock } from './core/clock.js';
import { watchEventLoop } from './core/event-loop.js';
import { DurableFanOut } from './core/fan-out-sink.js';
import { Lifecycle } from './core/lifecycle.js';
import type { Logger } from './core/logger.js';
import type { SensorStore } from './core/sensor-store.js';
import { buildFederation, type FederationGateway } from './federation/index.js';
import {
  buildDecoder,
  buildIngest,
  buildLink,
  type IngestStage,
  type LinkStage,
  SqliteDeadLetterLog,
  FleetCap,
  IngestStats,
} from './ingest/index.js';
import { buildJournal, type JournalStage } from './journal/index.js';
import { ModelRegistry, modelReport } from './registry/index.js';
import { buildScheduler, type BuiltScheduler } from './scheduler/index.js';
import { buildScoring, type ScoringStage } from './scoring/index.js';
import { openVigilState } from './state.js';
import { buildStore } from './store/index.js';
import { SensorMetadata } from './core/sensor-metadata.js';
import { PresenceFeed } from './core/presence.js';
import { VerdictBook } from './core/verdict-book.js';
import { KindsOfStore } from './features/index.js';
import { buildTraining, type TrainingManager } from './training/index.js';

/** The stages of a started daemon. */
export interface Stages {
  store: SensorStore;
  journal: JournalStage;
  training: TrainingManager;
  scheduler: BuiltScheduler;
  federation: FederationGateway | null;
  scoring: ScoringStage;
  alerts: AlertStage;
  link: LinkStage;
  ingest: IngestStage;
}

/**
 * The composition root: builds each stage from the validated config in data-path order (sources
 * last), and stops them in reverse. Each builder registers its own release, reports and periodic
 * jobs with the lifecycle, so a start that fails half-way releases just what it built.
 */
export class Daemon {
  readonly stats: IngestStats;
  readonly fleet: FleetCap;
  httpUrl = '';
  mqttUrl = '';
  private readonly life: Lifecycle;
  private built: Stages | null = null;
  private running = false;
  private readonly startedAt: number;
  private readonly reported: StatusSource;

  constructor(
    readonly config: VigilConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.stats = new IngestStats(clock);
    this.fleet = new FleetCap(config.ingest.maxMachines);
    this.life = new Lifecycle(clock, log);
    this.startedAt = clock.now();
    this.reported = reportedStatus(this.life, this.startedAt, () => this.running);
  }

  async start(): Promise<void> {
    try {
      this.built = await this.build(this.config, this.life);
      await this.life.run();
      this.running = true;
    } catch (err) {
      await this.life.stop(this.config.shutdown.timeout);
      throw err;
    }
  }

  private async build(cfg: VigilConfig, life: Lifecycle): Promise<Stages> {
    watchEventLoop(life);
    const db = openVigilState(path.join(cfg.dataDir, 'vigil.db'));
    life.release('state database', () => void db.close());
    const deadLetters = new SqliteDeadLetterLog(db, cfg.ingest.deadLetterLimit);
    const registry = new ModelRegistry(cfg.learning.modelsDir);
    life.report(modelReport(registry));
    // Anomaly alerts' stretches and technicians' verdicts: written by alerts, learned from by health runs.
    const verdicts = new VerdictBook(db);

    const store = await buildStore(cfg, life);
    const metadata = new SensorMetadata(cfg.sensors.units);
    const presence = new PresenceFeed();
    // The MQTT link (and the embedded broker) first: the stages built after it send and route on it;
    // it connects once they all exist.
    const link = await buildLink(cfg, life);
    // Samples are encoded for InfluxDB as they arrive (and on read-back), while their payload is at hand.
    const decoder = buildDecoder(cfg, {
      keepValueText: store.usesValueText === true,
      metadata,
      link,
      presence,
      log: this.log.child({ component: 'sparkplug' }),
    });
    // Messages are journalled as they arrived (Sparkplug with its aliases resolved); reading one back decodes it as then.
    const journal = buildJournal(cfg, { store, decodeMessage: (t, p, at) => decoder.replay(t, p, at).batch }, life);
    const training = buildTraining(cfg, { db, registry, verdicts }, life);
    // Machines by kind from the store, shared by the scheduler and the API; read again when machines came.
    const kinds = new KindsOfStore(
      store,
      cfg.machines,
      () => this.clock.now(),
      () => this.fleet.stats.tracked,
    );
    const scheduler = buildScheduler(cfg, { db, store, training, registry, link: link.mqtt, kinds, verdicts }, life);
    const scoring = await buildScoring(
      cfg,
      { db, store, registry, fleet: this.fleet, learningNormal: (kind) => scheduler.policy.learningNormal(kind) },
      life,
    );
    const federation = buildFederation(
      cfg,
      {
        hold: (what) => training.hold(what),
        // Rounds start in the energy policy's window when it schedules training at all.
        ...(cfg.schedule.enabled
          ? {
              startWithin: (deadline: number, expectedMs: number, what: string) => scheduler.policy.startWithin(deadline, expectedMs, what),
            }
          : {}),
        registry,
        link,
      },
      life,
    );
    const alerts = buildAlerts(
      cfg,
      { db, fleet: this.fleet, scoring: scoring.service, publisher: link.mqtt, metadata, presence, verdicts },
      life,
    );
    const sink = new DurableFanOut(journal.queue, [scoring.service, alerts.observer], this.clock, this.log.child({ component: 'fan-out' }));
    const ingest = buildIngest(
      cfg,
      {
        link,
        decoder,
        sink,
        deadLetters,
        stats: this.stats,
        fleet: this.fleet,
        ackBatch: journal.queue.ackBatch,
        onStopping: () => journal.queue.close(),
      },
      life,
    );
    this.mqttUrl = link.url;

    const sources = { startedAt: this.startedAt, running: () => this.running, deadLetters, registry, store, decoder, metadata, kinds };
    const http = await buildHttp(cfg, { ...sources, ingest, scoring, alerts, training, scheduler, federation }, life);
    this.httpUrl = http.url;
    return { store, journal, training, scheduler, federation, scoring, alerts, link, ingest };
  }

  /** Stops in reverse order within the configured time; uncommitted data stays in the journal. */
  async stop(): Promise<void> {
    this.running = false;
    await this.life.stop(this.config.shutdown.timeout);
    this.log.info('stopped');
  }

  get stages(): Stages {
    if (!this.built) throw new Error('the daemon is not started');
    return this.built;
  }

  status(): Status {
    return this.reported.status();
  }

  readiness(): Readiness {
    return this.reported.readiness();
  }
}
