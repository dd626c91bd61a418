import { Type, type Static } from '@sinclair/typebox';
import { alertFields, qualityIngestFields, escalationFields } from '../alerts/index.js';
import { eventLoopFields } from '../core/event-loop.js';
import type { StageReport } from '../core/stage-report.js';
import { brokerFields, ingestFields, sparkplugFields } from '../ingest/index.js';
import { journalFields, storeFields } from '../journal/index.js';
import { modelFields } from '../registry/index.js';
import { scoringFields, scoringIngestFields } from '../scoring/index.js';
import { trainingFields } from '../training/index.js';
import { federationFields } from '../federation/index.js';
import { readGateFields } from './read-gate.js';

export { AlertQualitySchema, qualityJson } from '../alerts/index.js';

export const streamFields = {
  streams: Type.Integer({ description: 'open /api/v1/alerts/stream connections' }),
  streamClientsDropped: Type.Integer({
    description: 'stream clients dropped for leaving more than a megabyte unread (they resume with Last-Event-ID)',
  }),
};

/** The SSE streams the API serves, reported with the alerts. */
export function streamReport(stats: { streams: number; dropped: number }): StageReport<typeof streamFields> {
  return { section: 'alerts', fields: streamFields, read: () => ({ streams: stats.streams, streamClientsDropped: stats.dropped }) };
}

/**
 * `GET /api/v1/status`, section by section as the stages report them (their `fields`): a field added
 * to a stage's report appears here by itself.
 */
export const StatusSchema = Type.Object({
  version: Type.String(),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Number(),
  ingest: Type.Object({ ...ingestFields, ...scoringIngestFields, ...qualityIngestFields }),
  store: Type.Object({ ...storeFields, ...readGateFields }),
  journal: Type.Object(journalFields),
  model: Type.Object(modelFields),
  broker: Type.Object(brokerFields),
  sparkplug: Type.Object(sparkplugFields),
  scoring: Type.Object({ ...scoringFields, ...eventLoopFields }),
  alerts: Type.Object({ ...alertFields, ...escalationFields, ...streamFields }),
  training: Type.Object(trainingFields),
  federation: Type.Object(federationFields),
});

export type Status = Static<typeof StatusSchema>;

/** The status from the stages' reports: each section is what the stages that fill it read now. */
export function composeStatus(head: { version: string; startedAt: number; now: number }, reports: readonly StageReport[]): Status {
  const sections: Record<string, Record<string, unknown>> = {};
  for (const r of reports) {
    if (r.section === null) continue;
    Object.assign((sections[r.section] ??= {}), r.read());
  }
  return {
    version: head.version,
    startedAt: new Date(head.startedAt).toISOString(),
    uptimeSeconds: Math.round((head.now - head.startedAt) / 1000),
    ...sections,
  } as Status;
}

/** Why the daemon is not ready, from every stage that knows a reason. */
export function composeReadiness(reports: readonly StageReport[]): Readiness {
  const reasons = reports.flatMap((r) => r.notReady?.() ?? []);
  return { ready: reasons.length === 0, reasons };
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
