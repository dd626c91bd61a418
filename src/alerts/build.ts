import type Database from 'better-sqlite3';
import type { IngestConfig } from '../ingest/index.js';
import { horizonMs, type HealthConfig, type KindRecipes, type LearningConfig } from '../training/index.js';
import type { AlertsConfig, NotifyConfig } from './config.js';
import type { Lifecycle } from '../core/lifecycle.js';
import type { BatchObserver, FleetMembership } from '../core/types.js';
import type { ScoringService } from '../scoring/index.js';
import { AlertStore } from './alert-store.js';
import { AlertEngine } from './engine.js';
import { AnomalyAlerts } from './anomaly.js';
import type { VerdictBook } from '../core/verdict-book.js';
import { MqttAlertNotifier, type MqttPublisher } from './notifiers/mqtt.js';
import type { Notifier } from './notifiers/notifier.js';
import { WebhookNotifier } from './notifiers/webhook.js';
import { Outbox } from './outbox.js';
import { QualityMonitor } from './quality.js';
import { alertReports } from './report.js';
import { onPresence } from './presence.js';
import { Escalator, escalationReport } from './escalation.js';
import { VigilError } from '../core/errors.js';
import type { PresenceFeed } from '../core/presence.js';
import type { SensorMetadata } from '../core/sensor-metadata.js';

/** What the alerts stage reads of the config: its own sections, the grid of the scores it judges, what counts as backfill. */
export interface AlertSections {
  alerts: AlertsConfig;
  notify: NotifyConfig;
  ingest: Pick<IngestConfig, 'backfillAge' | 'maxSensorsPerMachine'>;
  learning: LearningConfig;
  health: Pick<HealthConfig, 'openAfter' | 'closeAfter' | 'hysteresis'>;
  kinds: KindRecipes;
}

export interface AlertStage {
  store: AlertStore;
  engine: AlertEngine;
  escalator: Escalator;
  quality: QualityMonitor;
  /** Sees accepted data: readings for data quality, events for alert outcomes. */
  observer: BatchObserver;
}

/**
 * Alerts: the rules on scores and data quality, their lifecycle in the state database, and the
 * outbox that delivers each change to webhooks and MQTT (started once everything is built).
 */
export function buildAlerts(
  config: AlertSections,
  d: {
    db: Database.Database;
    fleet: FleetMembership;
    scoring: ScoringService;
    publisher: MqttPublisher;
    metadata: SensorMetadata;
    /** Where a protocol says machines went offline or came back (Sparkplug DEATH/BIRTH). */
    presence: PresenceFeed;
    /** Where anomaly alerts' stretches and their verdicts are kept for the next health run. */
    verdicts: VerdictBook;
  },
  life: Lifecycle,
): AlertStage {
  const { clock, log } = life;
  const a = config.alerts;
  const n = config.notify;
  const notifiers: Notifier[] = n.webhooks.map(
    (w) => new WebhookNotifier({ name: w.name, url: w.url, secret: w.secret, timeoutMs: w.timeout }, () => clock.now()),
  );
  // Escalation-only webhooks (a second channel) get escalations, not every alert change.
  const everyChange = n.webhooks.filter((w) => !w.escalationOnly).map((w) => `webhook:${w.name}`);
  const store = new AlertStore(d.db, [...everyChange, ...(n.mqtt.enabled ? ['mqtt'] : [])]);
  const known = new Set([...notifiers.map((x) => x.channel), ...(n.mqtt.enabled ? ['mqtt'] : [])]);
  for (const severity of ['warning', 'critical'] as const)
    for (const [i, step] of a.escalation[severity].entries())
      for (const c of step.notify)
        if (!known.has(c))
          throw new VigilError(
            'VGL_CONFIG_INVALID',
            `alerts.escalation.${severity}[${i}].notify names ${c}, which is not a channel: use mqtt (notify.mqtt.enabled) or webhook:<name> of notify.webhooks`,
          );
  if (n.mqtt.enabled)
    notifiers.push(
      new MqttAlertNotifier(d.publisher, n.mqtt.alertTopic, (m) => store.list({ state: 'unresolved', machine: m, limit: 100 })),
    );
  // A failure within the machine's kind's horizon after an alert closed is the one it warned of.
  const lateFailureGraceMs = (machine: string) => horizonMs(config, d.scoring.kindOfMachine(machine));
  const quality = new QualityMonitor(
    {
      staleAfterMs: a.staleAfter,
      sensorStaleAfterMs: a.sensorStaleAfter,
      flatlineAfterMs: a.flatlineAfter,
      flatlineMinReadings: a.flatlineMinReadings,
      ranges: a.ranges,
      backfillAgeMs: config.ingest.backfillAge,
      maxSensorsPerMachine: config.ingest.maxSensorsPerMachine,
      engineeringRange: (machine, sensor) => d.metadata.describe(machine, sensor),
    },
    d.fleet,
  );
  const anomaly = new AnomalyAlerts(
    store,
    d.verdicts,
    {
      openAfter: config.health.openAfter,
      closeAfter: config.health.closeAfter,
      hysteresis: config.health.hysteresis,
      criticalAfterMs: a.anomaly.criticalAfter,
      lateFailureGraceMs,
      backfillAgeMs: config.ingest.backfillAge,
      topSensors: a.anomaly.topSensors,
    },
    clock,
    log.child({ component: 'anomaly' }),
    (ev) => engine.emit('event', ev),
    (machine, sensor) => d.metadata.describe(machine, sensor) ?? null,
  );
  const engine: AlertEngine = new AlertEngine(
    store,
    quality,
    {
      ...a.risk,
      high: a.risk.high ?? null,
      lateFailureGraceMs,
      backfillAgeMs: config.ingest.backfillAge,
      silentMachinesSummary: a.silentMachinesSummary,
      stepMs: config.learning.step,
    },
    clock,
    log.child({ component: 'alerts' }),
    anomaly,
    (machine) => d.scoring.watchedBy(machine),
  );
  d.scoring.onScore((machine, score, threshold) => engine.onScore({ machine, ...score }, threshold));
  d.scoring.onHealth((machine, health, kind) => anomaly.onHealth(machine, health, kind));
  const outbox = new Outbox(store, notifiers, clock, log.child({ component: 'outbox' }), {
    retryInitialMs: n.retryInitial,
    retryMaxMs: n.retryMax,
    maxAttempts: n.maxAttempts,
  });
  engine.on('event', () => outbox.kick());
  life.whenRunning(() => outbox.start());
  life.release('outbox', () => outbox.stop());
  life.every('data-quality', a.checkInterval, () => engine.checkQualityInSlices());
  const escalator = new Escalator(store, a.escalation, (ev) => engine.emit('event', ev));
  if (escalator.enabled) life.every('alert-escalation', a.checkInterval, () => escalator.check(clock.now()));
  life.report(...alertReports(store, engine, quality), escalationReport(escalator));
  const observer: BatchObserver = {
    name: 'alerts',
    observe: (batch, receivedAt) => {
      for (const s of batch.samples) quality.observe(s, receivedAt);
      for (const e of batch.events) engine.onMachineEvent(e, receivedAt);
    },
  };
  d.presence.listen((change) => {
    try {
      onPresence(change, engine, quality);
    } catch (err) {
      log.warn({ err, source: change.source }, 'presence change not recorded');
    }
  });
  return { store, engine, escalator, quality, observer };
}
