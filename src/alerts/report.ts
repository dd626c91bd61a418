import { Type, type Static } from '@sinclair/typebox';
import { labelled, stageReport, type StageReport } from '../core/stage-report.js';
import type { AlertStore } from './alert-store.js';
import type { AlertEngine } from './engine.js';
import type { QualityMonitor } from './quality.js';
import type { AlertQuality } from './types.js';

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** How failure-risk alerts fared in production: the figures of /api/v1/alerts/quality. */
export const AlertQualitySchema = Type.Object({
  period: Type.Object(
    { from: NullableString, to: NullableString },
    {
      description:
        'daemon time the figures cover: from the last reset (POST /api/v1/alerts/quality/reset) or the first record, or as asked with ?from=&to=; to null = now',
    },
  ),
  ...roleQuality('failure-risk alerts', 'a failure model'),
  anomaly: Type.Object(
    {
      ...roleQuality('anomaly alerts', 'a health model'),
      unjudged: Type.Integer({ description: 'anomaly alerts that closed by themselves, with no verdict and no failure after them' }),
      verdicts: Type.Object({ normal: Type.Integer(), abnormal: Type.Integer(), failure: Type.Integer() }),
    },
    {
      description:
        "the health model's alerts: early warnings (a failure followed) and real problems technicians found count as right; those called normal as false alarms",
    },
  ),
  unwatchedFailures: Type.Integer({
    description: "live failures while the machine's kind had no model of either role: nothing watched them, so none was missed",
  }),
});

function roleQuality(alerts: string, watcher: string) {
  return {
    truePositives: Type.Integer({ description: `${alerts} a failure (or a real problem) followed` }),
    falseAlarms: Type.Integer({ description: `${alerts} closed without one` }),
    missedFailures: Type.Integer({ description: `live failures of machines ${watcher} watched, with no such alert before them` }),
    precision: Nullable(Type.Number()),
    recall: Nullable(Type.Number()),
    meanLeadMs: Nullable(Type.Number()),
  };
}

/** The store's quality figures as the API shows them (times as ISO 8601). */
export function qualityJson(q: AlertQuality): Static<typeof AlertQualitySchema> {
  const iso = (t: number | null) => (t === null || !Number.isFinite(t) ? null : new Date(t).toISOString());
  return { ...q, period: { from: iso(q.period.from), to: iso(q.period.to) } };
}

export const alertFields = {
  open: Type.Integer(),
  acknowledged: Type.Integer(),
  resolved: Type.Integer(),
  quality: AlertQualitySchema,
  backfillFailures: Type.Integer({ description: 'failures of backfilled history: they label training data but are not counted as missed' }),
  backfillScores: Type.Integer({ description: 'scores of windows older than ingest.backfillAge: shown, never alerted on' }),
  deliveries: Type.Object({ pending: Type.Integer(), delivered: Type.Integer(), dead: Type.Integer() }),
};

export const qualityIngestFields = {
  backfillReadings: Type.Integer({
    description: 'readings stamped more than ingest.backfillAge before they arrived: stored and learned from, not watched for staleness',
  }),
};

export function alertReports(
  store: AlertStore,
  engine: AlertEngine,
  quality: QualityMonitor,
): [StageReport<typeof alertFields>, StageReport<typeof qualityIngestFields>] {
  return [
    stageReport({
      section: 'alerts',
      fields: alertFields,
      read: () => ({
        ...store.countsByState(),
        quality: qualityJson(store.figures.over()),
        backfillFailures: engine.counters.backfillFailures,
        backfillScores: engine.counters.backfillScores,
        deliveries: store.deliveries.counts(),
      }),
      metrics: [
        {
          name: 'vigil_alerts',
          help: 'alerts by state',
          type: 'gauge',
          labelNames: ['state'],
          read: () => labelled('state', store.countsByState()),
        },
        {
          name: 'vigil_alerts_unresolved',
          help: 'unresolved alerts by kind',
          type: 'gauge',
          labelNames: ['kind'],
          read: () => labelled('kind', store.unresolvedCountsByKind()),
        },
        {
          name: 'vigil_anomaly_alerts_opened_total',
          help: "anomaly alerts the health model's index opened",
          type: 'counter',
          read: () => engine.anomaly?.counters.opened ?? 0,
        },
        {
          name: 'vigil_anomaly_early_warnings_total',
          help: 'failures an anomaly alert announced',
          type: 'counter',
          read: () => engine.anomaly?.counters.earlyWarnings ?? 0,
        },
        {
          name: 'vigil_verdicts_total',
          help: "technicians' verdicts on anomaly alerts",
          type: 'counter',
          read: () => engine.anomaly?.counters.verdicts ?? 0,
        },
        {
          name: 'vigil_anomaly_verdicts_without_alert_total',
          help: 'verdicts on the events topic that found no anomaly alert to settle',
          type: 'counter',
          read: () => engine.anomaly?.counters.verdictsWithoutAlert ?? 0,
        },
        {
          name: 'vigil_failures_unwatched_total',
          help: "live failures while the machine's kind had no model of either role",
          type: 'counter',
          read: () => engine.counters.unwatchedFailures,
        },
        {
          name: 'vigil_notification_deliveries',
          help: 'notification deliveries by state',
          type: 'gauge',
          labelNames: ['state'],
          read: () => labelled('state', store.deliveries.counts()),
        },
      ],
    }),
    stageReport({
      section: 'ingest',
      fields: qualityIngestFields,
      read: () => ({ backfillReadings: quality.stats.backfillReadings }),
      metrics: [
        {
          name: 'vigil_ingest_backfill_readings_total',
          help: 'readings stamped more than ingest.backfillAge before arrival (stored, not watched)',
          type: 'counter',
          read: () => quality.stats.backfillReadings,
        },
      ],
    }),
  ];
}
