import type { StateSchema } from '../core/state-db.js';

/** Scores kept per machine and step (bounded by `scoring.historyRetention`). */
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
  ],
};
