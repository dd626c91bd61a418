import type { Status } from '../../src/api/status-model.js';

/** A complete, plausible daemon status for API tests. */
export function statusFixture(): Status {
  return {
    version: '0.1.0',
    startedAt: new Date(0).toISOString(),
    uptimeSeconds: 5,
    ingest: { messagesReceived: 3, messagesAccepted: 2, messagesRejected: 1, readingsAccepted: 20, eventsAccepted: 0, messagesPerSecond: 0.3, readingsPerSecond: 2, rejectedByReason: { bad_json: 1 }, lateReadings: 0, backfillReadings: 0, machinesTracked: 0, maxMachines: 10_000, untrackedMessages: 0 },
    store: { kind: 'sqlite', state: 'up', samplesStored: 2, readingsStored: 20, eventsStored: 0, readingsPerSecond: 2, pendingSamples: 0, pendingBytes: 0, commits: 1, commitFailures: 0, storeRejections: 0, lastStoreRejection: null, lastCommitAt: null, lastCommitMs: null, downSince: null, lastError: null },
    journal: { depth: 0, bytes: 0, maxBytes: 100, segments: 0, corruptRecords: 0, damagedRegions: 0, bytesSkipped: 0, recordsLost: 0, redecodeMismatches: 0, catchingUp: false, backpressure: false, backpressureEpisodes: 0 },
    model: { champion: null, createdAt: null, prAuc: null, f1: null, rulRmse: null, trainedOn: null, versions: 0, error: null },
    broker: { mode: 'embedded', url: 'mqtt://127.0.0.1:1883', connected: true, subscribed: true, since: null, connects: 1, lastError: null, unacknowledged: 0, fastPathMessages: 0 },
    scoring: { enabled: true, champion: null, machines: 0, machinesScored: 0, scoresTotal: 0, scoresWithMissingInputs: 0, lastBatchMs: null, lastBatchSize: 0, errors: 0, lastError: null, eventLoopLagMs: { p50: 1, p99: 2, max: 3 } },
    alerts: {
      open: 0,
      acknowledged: 0,
      resolved: 0,
      quality: { period: { from: null, to: null }, truePositives: 0, falseAlarms: 0, missedFailures: 0, precision: null, recall: null, meanLeadMs: null },
      backfillFailures: 0,
      backfillScores: 0,
      streams: 0,
      streamClientsDropped: 0,
      deliveries: { pending: 0, delivered: 0, dead: 0 },
    },
    training: { running: null, lastRun: null, scheduled: true },
  };
}
