import type Database from 'better-sqlite3';
import type { AlertQuality, RoleQuality } from '../types.js';

/** Who a failure got past: a model role that watched its machine, or nobody (its kind had no model). */
export type MissedBy = 'failure' | 'health' | 'unwatched';

/**
 * Production precision and recall of each model role's alerts (failure risk, anomaly): the outcomes
 * the alerts table records, the failures each role missed (`missed_failures`, one row per role), the
 * failures nobody watched, the verdicts, and where the figures were last reset.
 */
export class QualityFigures {
  private readonly sql;

  constructor(db: Database.Database) {
    this.sql = {
      outcomes: db.prepare(
        `SELECT SUM(outcome = 'true_positive') AS tp, SUM(outcome = 'false_alarm') AS fa,
                SUM(outcome IS NULL AND resolution = 'recovered') AS unjudged,
                AVG(CASE WHEN outcome = 'true_positive' THEN lead_ms END) AS lead
         FROM alerts WHERE kind = ? AND resolved_at >= ? AND resolved_at < ?`,
      ),
      verdicts: db.prepare(
        "SELECT verdict, COUNT(*) AS n FROM alerts WHERE kind = 'anomaly' AND verdict IS NOT NULL AND verdict_at >= ? AND verdict_at < ? GROUP BY verdict",
      ),
      missed: db.prepare('SELECT COUNT(*) AS n FROM missed_failures WHERE role = ? AND recorded_at >= ? AND recorded_at < ?'),
      recordMiss: db.prepare('INSERT OR IGNORE INTO missed_failures (machine, failure_ts, recorded_at, role) VALUES (?, ?, ?, ?)'),
      firstRecord: db.prepare(
        "SELECT MIN(t) AS t FROM (SELECT MIN(resolved_at) AS t FROM alerts WHERE kind IN ('failure_risk', 'anomaly') AND outcome IS NOT NULL UNION ALL SELECT MIN(recorded_at) FROM missed_failures)",
      ),
      setting: db.prepare('SELECT value FROM settings WHERE key = ?'),
      putSetting: db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  /** A live failure that `by` did not announce (a role whose model watched the machine), or that nobody watched. */
  recordMiss(machine: string, failureTs: number, at: number, by: MissedBy = 'failure'): void {
    this.sql.recordMiss.run(machine, failureTs, at, by);
  }

  /**
   * The figures over a period of daemon time: alerts resolved in it (true positive or false alarm),
   * live failures recorded in it that a watching role did not announce, and those nobody watched. The
   * period starts, by default, where the figures were last reset.
   */
  over(period: { from?: number; to?: number } = {}): AlertQuality {
    const from = period.from ?? this.resetAt() ?? -Infinity;
    const to = period.to ?? Infinity;
    const lo = from === -Infinity ? Number.MIN_SAFE_INTEGER : from;
    const hi = to === Infinity ? Number.MAX_SAFE_INTEGER : to;
    const role = (kind: string, missedBy: MissedBy): RoleQuality & { unjudged: number } => {
      const q = this.sql.outcomes.get(kind, lo, hi) as {
        tp: number | null;
        fa: number | null;
        unjudged: number | null;
        lead: number | null;
      };
      const missed = (this.sql.missed.get(missedBy, lo, hi) as { n: number }).n;
      const tp = q.tp ?? 0;
      const fa = q.fa ?? 0;
      return {
        truePositives: tp,
        falseAlarms: fa,
        missedFailures: missed,
        precision: tp + fa > 0 ? tp / (tp + fa) : null,
        recall: tp + missed > 0 ? tp / (tp + missed) : null,
        meanLeadMs: q.lead,
        unjudged: q.unjudged ?? 0,
      };
    };
    const { unjudged: _u, ...failure } = role('failure_risk', 'failure');
    const verdicts = { normal: 0, abnormal: 0, failure: 0 };
    for (const r of this.sql.verdicts.all(lo, hi) as Array<{ verdict: keyof typeof verdicts; n: number }>) verdicts[r.verdict] = r.n;
    const first = from === -Infinity ? (this.sql.firstRecord.get() as { t: number | null }).t : from;
    return {
      period: { from: first, to: to === Infinity ? null : to },
      ...failure,
      anomaly: { ...role('anomaly', 'health'), verdicts },
      unwatchedFailures: (this.sql.missed.get('unwatched', lo, hi) as { n: number }).n,
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
