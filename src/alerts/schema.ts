import type { StateSchema } from '../core/state-db.js';

/** The alert stage's tables: alerts and their history, the outbox of deliveries, missed failures, and its settings (when quality figures were last reset). */
export const alertSchema: StateSchema = {
  stage: 'alerts',
  migrations: [
    {
      id: 'alerts/1',
      legacyVersion: 2,
      sql: `
      CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        site TEXT NOT NULL,
        line TEXT NOT NULL,
        machine TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL DEFAULT '',
        severity TEXT NOT NULL,
        state TEXT NOT NULL,
        message TEXT NOT NULL,
        details TEXT NOT NULL,
        opened_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        updates INTEGER NOT NULL DEFAULT 0,
        acked_at INTEGER, acked_by TEXT, ack_note TEXT,
        resolved_at INTEGER, resolved_by TEXT, resolution TEXT, resolve_note TEXT,
        outcome TEXT, lead_ms INTEGER
      );
      CREATE UNIQUE INDEX alerts_one_open ON alerts(machine, kind, subject) WHERE state != 'resolved';
      CREATE INDEX alerts_by_time ON alerts(opened_at);
      CREATE TABLE alert_events (
        id INTEGER PRIMARY KEY,
        alert_id INTEGER NOT NULL REFERENCES alerts(id),
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        payload TEXT NOT NULL
      );
      CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        event_id INTEGER NOT NULL REFERENCES alert_events(id),
        channel TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        delivered_at INTEGER,
        UNIQUE (event_id, channel)
      );
      CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
      CREATE TABLE missed_failures (
        id INTEGER PRIMARY KEY,
        machine TEXT NOT NULL,
        failure_ts INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        UNIQUE (machine, failure_ts)
      );
    `,
    },
    {
      id: 'alerts/2',
      legacyVersion: 4,
      sql: `
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE INDEX alerts_by_resolution ON alerts(kind, resolved_at);
      CREATE INDEX missed_by_time ON missed_failures(recorded_at);
    `,
    },
    {
      id: 'alerts/3',
      // Escalation history stays with its alert (a few steps at most); raised_to keeps a raised severity.
      sql: `
      ALTER TABLE alerts ADD COLUMN escalations TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE alerts ADD COLUMN raised_to TEXT;
    `,
    },
    {
      id: 'alerts/4-verdicts',
      // A technician's verdict on an anomaly alert; a failure can be missed by each model role, or by
      // none when its kind had no model at all (unwatched): one row per role.
      sql: `
      ALTER TABLE alerts ADD COLUMN verdict TEXT;
      ALTER TABLE alerts ADD COLUMN verdict_by TEXT;
      ALTER TABLE alerts ADD COLUMN verdict_at INTEGER;
      CREATE TABLE missed_failures_by_role (
        id INTEGER PRIMARY KEY,
        machine TEXT NOT NULL,
        failure_ts INTEGER NOT NULL,
        recorded_at INTEGER NOT NULL,
        role TEXT NOT NULL,
        UNIQUE (machine, failure_ts, role)
      );
      INSERT INTO missed_failures_by_role (machine, failure_ts, recorded_at, role)
        SELECT machine, failure_ts, recorded_at, 'failure' FROM missed_failures;
      DROP TABLE missed_failures;
      ALTER TABLE missed_failures_by_role RENAME TO missed_failures;
      CREATE INDEX missed_by_time ON missed_failures(recorded_at, role);
    `,
    },
  ],
};
