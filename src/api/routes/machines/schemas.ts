import { Type } from '@sinclair/typebox';
import { AlertSchema, MachineRefSchema, Nullable, TimeQuery } from '../../schemas.js';

/** The machines resource's wire form: its query strings and replies, as JSON schemas the OpenAPI document shows. */
export const Contribution = Type.Object({
  sensor: Type.String(),
  contribution: Type.Number({ description: 'p(failure) minus p(failure) with the sensor held at its mean' }),
});
export const ScoreSchema = Type.Object({
  scoredAt: Type.String(),
  dataTs: Type.String({ description: 'end of the scored window' }),
  probability: Type.Number(),
  rulSteps: Type.Number(),
  rulSeconds: Type.Number(),
  model: Type.String(),
  topSensors: Type.Array(Contribution),
  missingInputs: Type.Array(Type.String(), {
    description: 'model inputs with no reading in the scored window, held at their training mean',
  }),
});
export const HealthSchema = Type.Object({
  scoredAt: Type.String(),
  dataTs: Type.String({ description: 'end of the scored window' }),
  index: Type.Number({
    description: "100 = like its kind's normal; 50 = as far as the 99th percentile of normal; 100/(1 + k) at k times that",
  }),
  threshold: Type.Number({ description: 'an anomaly alert opens below this (the health model chose it for its false-alarm budget)' }),
  score: Type.Number({ description: 'the smoothed anomaly score behind the index' }),
  model: Type.String(),
  deviations: Type.Array(
    Type.Object({
      sensor: Type.String(),
      sigmas: Type.Number({ description: 'how far it departs from what the model expects, in its normal spread (signed)' }),
      delta: Type.Number({ description: 'the same in the sensor’s own unit' }),
    }),
    { description: 'sensors departing most from normal (at least two of their standard deviations)' },
  ),
  missingInputs: Type.Array(Type.String()),
});
export const HealthPoint = Type.Object({
  dataTs: Type.String(),
  scoredAt: Type.String(),
  index: Type.Number(),
  score: Type.Number(),
  model: Type.String(),
});
export const Summary = Type.Object({
  machine: MachineRefSchema,
  kind: Nullable(
    Type.Object(
      {
        name: Type.String(),
        source: Type.Union([Type.Literal('config'), Type.Literal('inferred')], {
          description: 'a `machines:` pattern, or inferred from its sensor set (GET /kinds says the rule)',
        }),
      },
      { description: 'which kind it is, and so which champion scores it; null for machines not seen since start' },
    ),
  ),
  status: Type.Union([
    Type.Literal('scored'),
    Type.Literal('warming_up'),
    Type.Literal('no_model'),
    Type.Literal('down'),
    Type.Literal('not_seen_since_start'),
  ]),
  detail: Nullable(Type.String()),
  score: Nullable(ScoreSchema),
  health: Nullable(HealthSchema),
  healthDetail: Nullable(Type.String({ description: 'why it has no health index (e.g. learning normal: 9 h of 24 h)' })),
  lastSeenAt: Nullable(Type.String({ description: 'time stamp of the newest reading' })),
  lastReceivedAt: Nullable(Type.String({ description: 'when a reading last arrived (differs from lastSeenAt for replayed data)' })),
  unresolvedAlerts: Type.Integer(),
});
export const Detail = Type.Intersect([
  Summary,
  Type.Object({
    latest: Type.Record(Type.String(), Type.Object({ value: Type.Number(), ts: Type.String() })),
    history: Type.Array(Type.Object({ dataTs: Type.String(), probability: Type.Number(), rulSteps: Type.Number(), model: Type.String() })),
    healthHistory: Type.Array(Type.Object({ dataTs: Type.String(), index: Type.Number(), model: Type.String() })),
    alerts: Type.Array(AlertSchema),
    sensors: Type.Record(
      Type.String(),
      Type.Object({ unit: Type.Optional(Type.String()), low: Type.Optional(Type.Number()), high: Type.Optional(Type.Number()) }),
      { description: 'units and engineering ranges known for its sensors (config sensors.units, Sparkplug BIRTH properties)' },
    ),
    alertThreshold: Nullable(Type.Number({ description: 'p(failure) at which a failure-risk alert opens for it' })),
  }),
]);
export const ListQuery = Type.Object(
  {
    q: Type.Optional(Type.String({ maxLength: 128, description: 'only machines whose id, line or site contains this (case-insensitive)' })),
    kind: Type.Optional(Type.String({ maxLength: 40, description: 'only machines of this kind' })),
    sort: Type.Union([Type.Literal('risk'), Type.Literal('name'), Type.Literal('line')], {
      default: 'risk',
      description: 'riskiest first, by machine id, or by site/line/machine',
    }),
    limit: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);
export const HistoryQuery = Type.Object(
  { from: Type.Optional(TimeQuery), to: Type.Optional(TimeQuery), limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }) },
  { additionalProperties: false },
);
export const ReadingsQuery = Type.Object(
  {
    from: Type.Optional(TimeQuery),
    to: Type.Optional(TimeQuery),
    sensors: Type.Optional(Type.String({ maxLength: 2000, description: 'comma-separated; all when absent' })),
    every: Type.Optional(Type.Integer({ minimum: 1, description: 'downsample: mean per bucket of this many milliseconds' })),
    points: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000, description: 'at most this many points; buckets widen to fit' }),
  },
  { additionalProperties: false },
);
