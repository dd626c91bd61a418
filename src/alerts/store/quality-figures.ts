import type Database from 'better-sqlite3';
import type { AlertQuality } from '../types.js';

/**
 * Production precision and recall of failure-risk alerts: the outcomes the alerts table records, the
 * failures no alert announced (`missed_failures`), and where the figures were last reset.
 */
export class QualityFigures {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      outcomes: db.prepare(
        `SELECT SUM(outcome = 'true_positive') AS tp, SUM(outcome = 'false_alarm') AS fa, AVG(CASE WHEN outcome = 'true_positive' THEN lead_ms END) AS lead
         FROM alerts WHERE kind = 'failure_risk' AND resolved_at >= ? AND resolved_at < ?`,
      ),
      missed: db.prepare('SELECT COUNT(*) AS n FROM missed_failures WHERE recorded_at >= ? AND recorded_at < ?'),
      recordMiss: db.prepare('INSERT OR IGNORE INTO missed_failures (machine, failure_ts, recorded_at) VALUES (?, ?, ?)'),
      firstRecord: db.prepare(
        "SELECT MIN(t) AS t FROM (SELECT MIN(resolved_at) AS t FROM alerts WHERE kind = 'failure_risk' AND outcome IS NOT NULL UNION ALL SELECT MIN(recorded_at) FROM missed_failures)",
      ),
      setting: db.prepare('SELECT value FROM settings WHERE key = ?'),
      putSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** A live failure no alert announced. */
  recordMiss(machine: string, failureTs: number, at: number): void {
    this.sql.recordMiss.run(machine, failureTs, at);
  }

  /**
   * The figures over a period of daemon time: alerts resolved in it (true positive or false alarm) and
   * live failures no alert announced that were recorded in it. The period starts, by default, where
   * the figures were last reset.
   */
  over(period: { from?: number; to?: number } = {}): AlertQuality {
    const from = period.from ?? this.resetAt() ?? -Infinity;
    const to = period.to ?? Infinity;
    const q = this.sql.outcomes.get(from, to) as { tp: number | null; fa: number | null; lead: number | null };
    const missed = (this.sql.missed.get(from, to) as { n: number }).n;
    const tp = q.tp ?? 0;
    const fa = q.fa ?? 0;
    const first = from === -Infinity ? (this.sql.firstRecord.get() as { t: number | null }).t : from;
    return {
      period: { from: first, to: to === Infinity ? null : to },
      truePositives: tp,
      falseAlarms: fa,
      missedFailures: missed,
      precision: tp + fa > 0 ? tp / (tp + fa) : null,
      recall: tp + missed > 0 ? tp / (tp + missed) : null,
      meanLeadMs: q.lead,
    };
  }

  /** From `at` on, the figures count afresh (what came before stays, for `over({ from })`). */
  reset(at: number): void {
    this.sql.putSetting.run('alerts.quality_from', String(at));
  }

  resetAt(): number | null {
    const row = this.sql.setting.get('alerts.quality_from') as { value: string } | undefined;
    return row ? Number(row.value) : null;
  }
}
