import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { VigilError } from './errors.js';

/** SQLite's answers for a file that is not (or no longer) a sound database. */
export function isDamage(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** One step of a stage's tables. Ids are never reused or edited once released; a change is a new step. */
export interface StateMigration {
  id: string;
  sql: string;
  /**
   * Where this step sat in the single numbered list the state database had before stages owned their
   * tables (`user_version`): a file at that version already has it.
   */
  legacyVersion?: number;
}

/** The tables one stage keeps in the state database, owned and migrated by that stage. */
export interface StateSchema {
  stage: string;
  migrations: StateMigration[];
}

/**
 * Vigil's operational state: every stage's own tables in one SQLite file (also when sensor data lives
 * in InfluxDB). Checked at start (quick_check, one pass over the file): a damaged state database stops
 * the start with what is wrong and what to do, instead of starting and answering with errors later.
 */
export function openStateDb(file: string, schemas: readonly StateSchema[]): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  let db: Database.Database;
  try {
    db = new Database(file);
    const problems = (db.pragma('quick_check(5)') as Array<{ quick_check: string }>).map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length > 0) throw Object.assign(new Error(problems.join('; ')), { code: 'SQLITE_CORRUPT' });
  } catch (err) {
    if (!isDamage(err)) throw err;
    throw new VigilError(
      'VGL_STATE_DAMAGED',
      `state database ${file} is damaged (${(err as Error).message.slice(0, 300)}). Vigil does not start on it. Restore it from a backup, or salvage it ` +
        `(sqlite3 "${file}" ".recover" | sqlite3 recovered.db, then put recovered.db in its place), or move it aside to start with empty state ` +
        '(alerts, scores, training runs and energy decisions; sensor data, the journal and models are kept elsewhere)',
      { cause: err },
    );
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  migrate(db, schemas);
  return db;
}

function migrate(db: Database.Database, schemas: readonly StateSchema[]): void {
  const known = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_migrations'").get() !== undefined;
  const legacy = known ? 0 : (db.pragma('user_version', { simple: true }) as number);
  db.exec(
    'CREATE TABLE IF NOT EXISTS state_migrations (id TEXT PRIMARY KEY, stage TEXT NOT NULL, applied_at INTEGER NOT NULL) WITHOUT ROWID',
  );
  const applied = new Set((db.prepare('SELECT id FROM state_migrations').all() as Array<{ id: string }>).map((r) => r.id));
  const record = db.prepare('INSERT INTO state_migrations (id, stage, applied_at) VALUES (?, ?, ?)');
  for (const schema of schemas) {
    for (const m of schema.migrations) {
      if (applied.has(m.id)) continue;
      db.transaction(() => {
        if (m.legacyVersion === undefined || m.legacyVersion > legacy) db.exec(m.sql);
        record.run(m.id, schema.stage, Date.now());
      })();
      applied.add(m.id);
    }
  }
}
