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
  truePositives: Type.Integer(),
  falseAlarms: Type.Integer(),
  missedFailures: Type.Integer(),
  precision: Nullable(Type.Number()),
  recall: Nullable(Type.Number()),
  meanLeadMs: Nullable(Type.Number()),
});

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
