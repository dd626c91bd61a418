import type { StateSchema } from '../core/state-db.js';

/** Failure scores and health indices kept per machine and step (bounded by `scoring.historyRetention`). */
export const scoringSchema: StateSchema = {
  stage: 'scoring',
  migrations: [
    {
      id: 'scoring/1',
      legacyVersion: 2,
      sql: `
      CREATE TABLE scores (
        machine TEXT NOT NULL,
        ts INTEGER NOT NULL,
        scored_at INTEGER NOT NULL,
        probability REAL NOT NULL,
        rul REAL NOT NULL,
        model TEXT NOT NULL,
        PRIMARY KEY (machine, ts)
      ) WITHOUT ROWID;
    `,
    },
    {
      id: 'scoring/2-health',
      sql: `
      CREATE TABLE health_scores (
        machine TEXT NOT NULL,
        ts INTEGER NOT NULL,
        scored_at INTEGER NOT NULL,
        health_index REAL NOT NULL,
        score REAL NOT NULL,
        model TEXT NOT NULL,
        PRIMARY KEY (machine, ts)
      ) WITHOUT ROWID;
      CREATE INDEX health_scores_by_time ON health_scores(scored_at);
    `,
    },
  ],
};
