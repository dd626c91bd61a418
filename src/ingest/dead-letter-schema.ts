import type { StateSchema } from '../core/state-db.js';

/** The bounded dead-letter log of refused messages. */
export const deadLetterSchema: StateSchema = {
  stage: 'ingest',
  migrations: [
    {
      id: 'ingest/1',
      legacyVersion: 1,
      sql: `
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY,
        received_at INTEGER NOT NULL,
        topic TEXT NOT NULL,
        reasons TEXT NOT NULL,
        rejections TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        excerpt TEXT NOT NULL
      );
    `,
    },
  ],
};
