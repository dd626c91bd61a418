import { Type } from '@sinclair/typebox';
import { stageReport, type StageReport } from '../core/stage-report.js';
import type { BatchWriter } from './batch-writer.js';
import type { DurableQueue } from './durable-queue.js';
import type { Journal } from './journal.js';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export const storeFields = {
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
  lastCommitMs: Type.Union([Type.Number(), Type.Null()]),
  downSince: NullableString,
  lastError: NullableString,
};

export const journalFields = {
  depth: Type.Integer({ description: 'records not yet committed to the store' }),
  bytes: Type.Integer(),
  maxBytes: Type.Integer(),
  segments: Type.Integer(),
  corruptRecords: Type.Integer({ description: 'records cut short by a crash, damaged stretches and undecodable records found' }),
  damagedRegions: Type.Integer({ description: 'damaged stretches of segments found at start-up; their bytes are in journal/quarantine/' }),
  bytesSkipped: Type.Integer(),
  recordsLost: Type.Integer({ description: 'acknowledged records lost to damage, as far as the seqs around it tell (at least this many)' }),
  redecodeMismatches: Type.Integer({
    description: 'journalled messages read back that decoded to a different number of items than at arrival',
  }),
  catchingUp: Type.Boolean({ description: 'the writer is reading its backlog back from disk' }),
  backpressure: Type.Boolean(),
  backpressureEpisodes: Type.Integer(),
};

/** The writer's side of the store: what was committed, what waits, whether the store takes writes. */
export function storeReport(kind: 'sqlite' | 'influx', writer: BatchWriter): StageReport<typeof storeFields> {
  const w = writer.stats;
  return stageReport({
    section: 'store',
    fields: storeFields,
    read: () => ({
      kind,
      state: w.state,
      samplesStored: w.samplesStored,
      readingsStored: w.readingsStored,
      eventsStored: w.eventsStored,
      readingsPerSecond: writer.storeRate.perSecond(),
      pendingSamples: w.pendingSamples,
      pendingBytes: w.pendingBytes,
      commits: w.commits,
      commitFailures: w.commitFailures,
      storeRejections: w.storeRejections,
      lastStoreRejection: w.lastStoreRejection,
      lastCommitAt: iso(w.lastCommitAt),
      lastCommitMs: w.lastCommitMs,
      downSince: iso(w.downSince),
      lastError: w.lastError,
    }),
    metrics: [
      {
        name: 'vigil_store_commits_total',
        help: 'store commits by result',
        type: 'counter',
        labelNames: ['result'],
        read: () => [
          [{ result: 'ok' }, w.commits],
          [{ result: 'failed' }, w.commitFailures],
        ],
      },
      {
        name: 'vigil_store_last_commit_seconds',
        help: 'duration of the last store commit',
        type: 'gauge',
        read: () => (w.lastCommitMs === null ? null : w.lastCommitMs / 1000),
      },
      { name: 'vigil_store_up', help: '1 when the sensor store accepts writes', type: 'gauge', read: () => (w.state === 'up' ? 1 : 0) },
      { name: 'vigil_store_pending_samples', help: 'samples held in memory for the store', type: 'gauge', read: () => w.pendingSamples },
      {
        name: 'vigil_store_pending_bytes',
        help: 'memory held by samples queued as line protocol (InfluxDB)',
        type: 'gauge',
        read: () => w.pendingBytes,
      },
    ],
    notReady: () => (w.state === 'down' ? [`sensor store unavailable: ${w.lastError ?? ''}`.trim()] : []),
  });
}

/** The journal on disk: its depth, its size against the cap, damage found, backpressure. */
export function journalReport(
  journal: Journal,
  writer: BatchWriter,
  queue: DurableQueue,
  maxBytes: number,
): StageReport<typeof journalFields> {
  const j = journal.stats;
  return stageReport({
    section: 'journal',
    fields: journalFields,
    read: () => ({
      depth: j.depth,
      bytes: j.bytes,
      maxBytes,
      segments: j.segments,
      corruptRecords: j.corruptRecords,
      damagedRegions: j.damagedRegions,
      bytesSkipped: j.bytesSkipped,
      recordsLost: j.recordsLost,
      redecodeMismatches: j.redecodeMismatches,
      catchingUp: writer.stats.catchingUp,
      backpressure: queue.backpressure.active,
      backpressureEpisodes: queue.backpressure.episodes,
    }),
    metrics: [
      {
        name: 'vigil_journal_depth_records',
        help: 'journalled records not yet committed to the store',
        type: 'gauge',
        read: () => j.depth,
      },
      { name: 'vigil_journal_bytes', help: 'journal size on disk', type: 'gauge', read: () => j.bytes },
    ],
    notReady: () => (queue.backpressure.active ? ['backpressure: journal at its cap'] : []),
  });
}
