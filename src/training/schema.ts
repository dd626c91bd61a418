import type { StateSchema } from '../core/state-db.js';

/** Training runs: who asked, what happened, what they produced. */
export const trainingSchema: StateSchema = {
  stage: 'training',
  migrations: [
    {
      id: 'training/1',
      legacyVersion: 2,
      sql: `
      CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY,
        trigger TEXT NOT NULL,
        requested_by TEXT,
        state TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER,
        version TEXT,
        promoted INTEGER,
        reason TEXT,
        error TEXT,
        progress TEXT,
        failures_labelled INTEGER,
        bypass_energy INTEGER NOT NULL DEFAULT 0
      );
    `,
    },
    // The machine kind a run trained: asked for, or chosen by the worker (known when it finishes).
    { id: 'training/2-kind', sql: 'ALTER TABLE training_runs ADD COLUMN kind TEXT' },
    // Which model role a run trained: the failure predictor, or the health model.
    { id: 'training/3-role', sql: "ALTER TABLE training_runs ADD COLUMN role TEXT NOT NULL DEFAULT 'failure'" },
  ],
};
