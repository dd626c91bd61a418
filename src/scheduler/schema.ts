import type { StateSchema } from '../core/state-db.js';

/** The scheduler's decisions and the energy each training run used. */
export const schedulerSchema: StateSchema = {
  stage: 'scheduler',
  migrations: [
    {
      id: 'scheduler/1',
      legacyVersion: 3,
      sql: `
      CREATE TABLE energy_decisions (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        reason TEXT NOT NULL,
        need TEXT,
        deadline INTEGER,
        window_start INTEGER,
        window_end INTEGER,
        window_cost REAL,
        now_cost REAL,
        run_id INTEGER
      );
      CREATE TABLE run_energy (
        run_id INTEGER PRIMARY KEY REFERENCES training_runs(id),
        method TEXT NOT NULL,
        joules REAL NOT NULL,
        started_at INTEGER NOT NULL,
        ended_at INTEGER NOT NULL,
        intensity REAL,
        price REAL,
        baseline_intensity REAL,
        detail TEXT NOT NULL
      );
    `,
    },
  ],
};
