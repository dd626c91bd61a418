import type Database from 'better-sqlite3';
import { alertSchema } from './alerts/index.js';
import { openStateDb, type StateSchema } from './core/state-db.js';
import { verdictSchema } from './core/verdict-book.js';
import { deadLetterSchema } from './ingest/index.js';
import { schedulerSchema } from './scheduler/index.js';
import { scoringSchema } from './scoring/index.js';
import { trainingSchema } from './training/index.js';

/** Every stage's tables in the state database, in data-path order. */
export const STATE_SCHEMAS: readonly StateSchema[] = [
  deadLetterSchema,
  trainingSchema,
  schedulerSchema,
  scoringSchema,
  alertSchema,
  verdictSchema,
];

/** Opens (checks, migrates) the state database with the tables of every stage. */
export function openVigilState(file: string): Database.Database {
  return openStateDb(file, STATE_SCHEMAS);
}
