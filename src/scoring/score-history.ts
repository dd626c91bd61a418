import type Database from 'better-sqlite3';

export interface ScoreRecord {
  dataTs: number;
  at: number;
  probability: number;
  rulSteps: number;
  model: string;
}

/**
 * The failure scores of every machine over time (the `scores` table of Vigil's state database):
 * written in batches as a scoring round ends, read for a machine's history, pruned past the
 * retention (the lifecycle runs `prune` hourly).
 */
export class ScoreHistory {
  private readonly insert: Database.Statement;
  private readonly query: Database.Statement;
  private readonly pruneOlder: Database.Statement;

  constructor(
    private readonly db: Database.Database,
    private readonly retentionMs: number,
  ) {
    this.insert = db.prepare('INSERT OR REPLACE INTO scores (machine, ts, scored_at, probability, rul, model) VALUES (?, ?, ?, ?, ?, ?)');
    this.query = db.prepare(
      'SELECT ts, scored_at, probability, rul, model FROM scores WHERE machine = ? AND ts >= ? AND ts < ? ORDER BY ts DESC LIMIT ?',
    );
    this.pruneOlder = db.prepare('DELETE FROM scores WHERE scored_at < ?');
  }

  /** One round's scores in one transaction. */
  record(rows: ReadonlyArray<{ machine: string } & ScoreRecord>): void {
    this.db.transaction(() => {
      for (const r of rows) this.insert.run(r.machine, r.dataTs, r.at, r.probability, r.rulSteps, r.model);
    })();
  }

  /** A machine's scores with data time in [from, to), the newest `limit`, oldest first. */
  history(machine: string, from: number, to: number, limit: number): ScoreRecord[] {
    return (
      this.query.all(machine, from, to, limit) as Array<{ ts: number; scored_at: number; probability: number; rul: number; model: string }>
    )
      .reverse()
      .map((r) => ({ dataTs: r.ts, at: r.scored_at, probability: r.probability, rulSteps: r.rul, model: r.model }));
  }

  prune(now: number): void {
    this.pruneOlder.run(now - this.retentionMs);
  }
}
