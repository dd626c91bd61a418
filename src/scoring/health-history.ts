import type Database from 'better-sqlite3';

export interface HealthRecord {
  dataTs: number;
  at: number;
  /** The health index, 0–100. */
  index: number;
  /** The smoothed anomaly score it comes from. */
  score: number;
  model: string;
}

/**
 * The health index of every machine over time (the `health_scores` table), beside the failure scores:
 * written per scoring round, read for a machine's plot, pruned past the same retention.
 */
export class HealthHistory {
  private readonly insert: Database.Statement;
  private readonly query: Database.Statement;
  private readonly pruneOlder: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly retentionMs: number,
  ) {
    this.insert = db.prepare(
      'INSERT OR REPLACE INTO health_scores (machine, ts, scored_at, health_index, score, model) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.query = db.prepare(
      'SELECT ts, scored_at, health_index, score, model FROM health_scores WHERE machine = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?',
    );
    this.pruneOlder = db.prepare('DELETE FROM health_scores WHERE scored_at < ?');
  }

  record(rows: ReadonlyArray<{ machine: string } & HealthRecord>): void {
    this.db.transaction(() => {
      for (const r of rows) this.insert.run(r.machine, r.dataTs, r.at, r.index, r.score, r.model);
    })();
  }

  /** A machine's health with data time in [from, to), the newest `limit`, oldest first. */
  history(machine: string, from: number, to: number, limit: number): HealthRecord[] {
    return (
      this.query.all(machine, from, to, limit) as Array<{
        ts: number;
        scored_at: number;
        health_index: number;
        score: number;
        model: string;
      }>
    )
      .reverse()
      .map((r) => ({ dataTs: r.ts, at: r.scored_at, index: r.health_index, score: r.score, model: r.model }));
  }

  prune(now: number): void {
    this.pruneOlder.run(now - this.retentionMs);
  }
}
