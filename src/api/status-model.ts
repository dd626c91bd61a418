import { Type, type Static } from '@sinclair/typebox';
import type { AlertQuality } from '../alerts/types.js';

const Nullable = <T extends ReturnType<typeof Type.Number>>(t: T) => Type.Union([t, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** How failure-risk alerts fared in production: the figures of /api/v1/alerts/quality. */
export const AlertQualitySchema = Type.Object({
  period: Type.Object(
    { from: NullableString, to: NullableString },
    { description: 'daemon time the figures cover: from the last reset (POST /api/v1/alerts/quality/reset) or the first record, or as asked with ?from=&to=; to null = now' },
  ),
  truePositives: Type.Integer(),
  falseAlarms: Type.Integer(),
  missedFailures: Type.Integer(),
  precision: Nullable(Type.Number()),
  recall: Nullable(Type.Number()),
  meanLeadMs: Nullable(Type.Number()),
});

export const StatusSchema = Type.Object({
  version: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Number(),
  ingest: Type.Object({
    messagesReceived: Type.Integer(),
    messagesAccepted: Type.Integer(),
    messagesRejected: Type.Integer(),
    readingsAccepted: Type.Integer(),
    eventsAccepted: Type.Integer(),
    messagesPerSecond: Type.Number({ description: 'mean over the last 10 s' }),
    readingsPerSecond: Type.Number({ description: 'mean over the last 10 s' }),
    rejectedByReason: Type.Record(Type.String(), Type.Integer()),
    lateReadings: Type.Integer({ description: "readings older than their machine's scoring window (or its current run) when they arrived: stored, not scored" }),
    backfillReadings: Type.Integer({ description: 'readings stamped more than ingest.backfillAge before they arrived: stored and learned from, not watched for staleness' }),
    machinesTracked: Type.Integer({ description: 'machines scored and watched (at most ingest.maxMachines)' }),
    maxMachines: Type.Integer(),
    untrackedMessages: Type.Integer({ description: 'messages of machines beyond ingest.maxMachines: stored, not scored or watched' }),
  }),
  store: Type.Object({
    kind: Type.Union([Type.Literal('sqlite'), Type.Literal('influx')]),
    state: Type.Union([Type.Literal('up'), Type.Literal('down')]),
    samplesStored: Type.Integer(),
    readingsStored: Type.Integer(),
    eventsStored: Type.Integer(),
    readingsPerSecond: Type.Number(),
    pendingSamples: Type.Integer(),
    pendingBytes: Type.Integer({ description: 'memory held by samples queued as line protocol (InfluxDB); 0 for SQLite' }),
    commits: Type.Integer(),
    commitFailures: Type.Integer(),
    storeRejections: Type.Integer({ description: 'batches the store refused for good (not retried)' }),
    lastStoreRejection: NullableString,
    lastCommitAt: NullableString,
    lastCommitMs: Nullable(Type.Number()),
    downSince: NullableString,
    lastError: NullableString,
  }),
  journal: Type.Object({
    depth: Type.Integer({ description: 'records not yet committed to the store' }),
    bytes: Type.Integer(),
    maxBytes: Type.Integer(),
    segments: Type.Integer(),
    corruptRecords: Type.Integer({ description: 'records cut short by a crash, damaged stretches and undecodable records found' }),
    damagedRegions: Type.Integer({ description: 'damaged stretches of segments found at start-up; their bytes are in journal/quarantine/' }),
    bytesSkipped: Type.Integer(),
    recordsLost: Type.Integer({ description: 'acknowledged records lost to damage, as far as the seqs around it tell (at least this many)' }),
    redecodeMismatches: Type.Integer({ description: 'journalled messages read back that decoded to a different number of items than at arrival' }),
    catchingUp: Type.Boolean({ description: 'the writer is reading its backlog back from disk' }),
    backpressure: Type.Boolean(),
    backpressureEpisodes: Type.Integer(),
  }),
  model: Type.Object({
    champion: Type.Union([Type.String(), Type.Null()]),
    createdAt: NullableString,
    prAuc: Nullable(Type.Number()),
    f1: Nullable(Type.Number()),
    rulRmse: Nullable(Type.Number()),
    trainedOn: NullableString,
    versions: Type.Integer(),
    error: NullableString,
  }),
  broker: Type.Object({
    mode: Type.Union([Type.Literal('embedded'), Type.Literal('external')]),
    url: Type.String(),
    connected: Type.Boolean(),
    subscribed: Type.Boolean(),
    since: NullableString,
    connects: Type.Integer(),
    lastError: NullableString,
    unacknowledged: Type.Integer({ description: 'messages left unacknowledged after a failure (the broker sends them again)' }),
    fastPathMessages: Type.Integer({ description: "QoS 0/1 messages read off the socket by Vigil's PUBLISH path rather than by mqtt.js" }),
    embeddedClients: Type.Optional(Type.Integer()),
    embeddedRefused: Type.Optional(
      Type.Record(Type.String(), Type.Integer(), {
        description: 'embedded broker: connections, publishes and subscriptions refused, and retain flags dropped, by reason (bad_credentials, anonymous_not_allowed, client_id_reserved, reserved_topic, topic_not_allowed, empty_topic_level, subscription_not_allowed, packet_too_large, retain_dropped)',
      }),
    ),
  }),
  scoring: Type.Object({
    enabled: Type.Boolean(),
    champion: NullableString,
    machines: Type.Integer(),
    machinesScored: Type.Integer(),
    scoresTotal: Type.Integer(),
    scoresWithMissingInputs: Type.Integer({ description: 'scores where a model input had no reading in the window (held at its training mean)' }),
    lastBatchMs: Nullable(Type.Number()),
    lastBatchSize: Type.Integer(),
    errors: Type.Integer(),
    lastError: NullableString,
    eventLoopLagMs: Type.Object({ p50: Type.Number(), p99: Type.Number(), max: Type.Number() }, { description: 'daemon thread, last minute' }),
  }),
  alerts: Type.Object({
    open: Type.Integer(),
    acknowledged: Type.Integer(),
    resolved: Type.Integer(),
    quality: AlertQualitySchema,
    backfillFailures: Type.Integer({ description: 'failures of backfilled history: they label training data but are not counted as missed' }),
    backfillScores: Type.Integer({ description: 'scores of windows older than ingest.backfillAge: shown, never alerted on' }),
    streams: Type.Integer({ description: 'open /api/v1/alerts/stream connections' }),
    streamClientsDropped: Type.Integer({ description: 'stream clients dropped for leaving more than a megabyte unread (they resume with Last-Event-ID)' }),
    deliveries: Type.Object({ pending: Type.Integer(), delivered: Type.Integer(), dead: Type.Integer() }),
  }),
  training: Type.Object({
    running: Type.Union([Type.Object({ id: Type.Integer(), startedAt: Type.String(), progress: Type.Unknown() }), Type.Null()]),
    lastRun: Type.Union([Type.Object({ id: Type.Integer(), state: Type.String(), finishedAt: NullableString, version: NullableString, promoted: Type.Union([Type.Boolean(), Type.Null()]), error: NullableString }), Type.Null()]),
    scheduled: Type.Boolean({ description: 'the energy-aware scheduler starts runs by itself' }),
  }),
});

export type Status = Static<typeof StatusSchema>;

/** The store's quality figures as the API shows them (times as ISO 8601). */
export function qualityJson(q: AlertQuality): Static<typeof AlertQualitySchema> {
  const iso = (t: number | null) => (t === null || !Number.isFinite(t) ? null : new Date(t).toISOString());
  return { ...q, period: { from: iso(q.period.from), to: iso(q.period.to) } };
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

/** What the API reads from the running daemon; the composition root provides it. */
export interface StatusSource {
  status(): Status;
  readiness(): Readiness;
}
