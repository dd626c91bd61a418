import type Database from 'better-sqlite3';
import type { StateSchema } from './state-db.js';

/**
 * What a technician said of a stretch of a machine's behaviour an anomaly alert pointed at: `normal`
 * (fine: a new setpoint, a product change), `abnormal` (a real problem that was no failure, e.g. a
 * fouled filter), or `failure`. None yet while nobody has judged it.
 */
export const VERDICTS = ['normal', 'abnormal', 'failure'] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface JudgedPeriod {
  alertId: number;
  machine: string;
  kind: string | null;
  /** Data time the stretch began (the alert's first window) and ended (null while the alert is open). */
  from: number;
  to: number | null;
  verdict: Verdict | null;
  by: string | null;
  at: number | null;
}

/** The verdict book's table: one row per anomaly alert, written by the alerts stage. */
export const verdictSchema: StateSchema = {
  stage: 'verdicts',
  migrations: [
    {
      id: 'verdicts/1',
      sql: `
      CREATE TABLE judged_periods (
        alert_id INTEGER PRIMARY KEY,
        machine TEXT NOT NULL,
        kind TEXT,
        from_ts INTEGER NOT NULL,
        to_ts INTEGER,
        verdict TEXT,
        verdict_by TEXT,
        verdict_at INTEGER
      );
      CREATE INDEX judged_periods_by_time ON judged_periods(from_ts);
    `,
    },
  ],
};

interface Row {
  alert_id: number;
  machine: string;
  kind: string | null;
  from_ts: number;
  to_ts: number | null;
  verdict: Verdict | null;
  verdict_by: string | null;
  verdict_at: number | null;
}

/**
 * The stretches anomaly alerts pointed at and the technicians' verdicts on them, where the alerts
 * stage writes and training reads (a health run learns from normal verdicts and leaves out abnormal
 * and unjudged stretches): one small table both know, instead of training reading the alerts.
 */
export class VerdictBook {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      opened: db.prepare('INSERT OR IGNORE INTO judged_periods (alert_id, machine, kind, from_ts) VALUES (?, ?, ?, ?)'),
      closed: db.prepare('UPDATE judged_periods SET to_ts = ? WHERE alert_id = ? AND to_ts IS NULL'),
      judged: db.prepare(
        'UPDATE judged_periods SET verdict = ?, verdict_by = ?, verdict_at = ?, to_ts = coalesce(to_ts, ?) WHERE alert_id = ?',
      ),
      since: db.prepare('SELECT * FROM judged_periods WHERE coalesce(to_ts, from_ts) >= ? ORDER BY from_ts'),
      counts: db.prepare(
        'SELECT kind, verdict, COUNT(*) AS n FROM judged_periods WHERE verdict IS NOT NULL AND verdict_at >= ? GROUP BY kind, verdict',
      ),
    };
  }

  /** An anomaly alert opened over data from `from` on. */
  opened(alertId: number, machine: string, kind: string | null, from: number): void {
    this.sql.opened.run(alertId, machine, kind, from);
  }

  /** Its stretch ended (the alert closed or the machine failed) at data time `to`. */
  closed(alertId: number, to: number): void {
    this.sql.closed.run(to, alertId);
  }

  /** A technician's verdict on it; an open stretch ends at `dataTs`. */
  judge(alertId: number, verdict: Verdict, by: string, at: number, dataTs: number): void {
    this.sql.judged.run(verdict, by, at, dataTs, alertId);
  }

  /** Stretches that reach back to `from` or later (an open one stands until now). */
  periods(from: number): JudgedPeriod[] {
    return (this.sql.since.all(from) as Row[]).map((r) => ({
      alertId: r.alert_id,
      machine: r.machine,
      kind: r.kind,
      from: r.from_ts,
      to: r.to_ts,
      verdict: r.verdict,
      by: r.verdict_by,
      at: r.verdict_at,
    }));
  }

  /** Verdicts given since `at`, per machine kind. */
  counts(at = -Infinity): Array<{ kind: string | null; verdict: Verdict; n: number }> {
    return this.sql.counts.all(at === -Infinity ? Number.MIN_SAFE_INTEGER : at) as Array<{
      kind: string | null;
      verdict: Verdict;
      n: number;
    }>;
  }
}
