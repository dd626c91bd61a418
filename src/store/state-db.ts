import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { VigilError } from '../core/errors.js';

/** SQLite's answers for a file that is not (or no longer) a sound database. */
export function isDamage(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Schema migrations of Vigil's own state, applied in order; `user_version` records how far. */
const MIGRATIONS: string[] = [
  `CREATE TABLE dead_letters (
     id INTEGER PRIMARY KEY,
     received_at INTEGER NOT NULL,
     topic TEXT NOT NULL,
     reasons TEXT NOT NULL,
     rejections TEXT NOT NULL,
     accepted INTEGER NOT NULL,
     excerpt TEXT NOT NULL
   );`,
  `CREATE TABLE alerts (
     id INTEGER PRIMARY KEY,
     site TEXT NOT NULL,
     line TEXT NOT NULL,
     machine TEXT NOT NULL,
     kind TEXT NOT NULL,
     subject TEXT NOT NULL DEFAULT '',
     severity TEXT NOT NULL,
     state TEXT NOT NULL,
     message TEXT NOT NULL,
     details TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     updates INTEGER NOT NULL DEFAULT 0,
     acked_at INTEGER, acked_by TEXT, ack_note TEXT,
     resolved_at INTEGER, resolved_by TEXT, resolution TEXT, resolve_note TEXT,
     outcome TEXT, lead_ms INTEGER
   );
   CREATE UNIQUE INDEX alerts_one_open ON alerts(machine, kind, subject) WHERE state != 'resolved';
   CREATE INDEX alerts_by_time ON alerts(opened_at);
   CREATE TABLE alert_events (
     id INTEGER PRIMARY KEY,
     alert_id INTEGER NOT NULL REFERENCES alerts(id),
     type TEXT NOT NULL,
     at INTEGER NOT NULL,
     payload TEXT NOT NULL
   );
   CREATE TABLE deliveries (
     id INTEGER PRIMARY KEY,
     event_id INTEGER NOT NULL REFERENCES alert_events(id),
     channel TEXT NOT NULL,
     state TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     last_error TEXT,
     delivered_at INTEGER,
     UNIQUE (event_id, channel)
   );
   CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
   CREATE TABLE missed_failures (
     id INTEGER PRIMARY KEY,
     machine TEXT NOT NULL,
     failure_ts INTEGER NOT NULL,
     recorded_at INTEGER NOT NULL,
     UNIQUE (machine, failure_ts)
   );
   CREATE TABLE scores (
     machine TEXT NOT NULL,
     ts INTEGER NOT NULL,
     scored_at INTEGER NOT NULL,
     probability REAL NOT NULL,
     rul REAL NOT NULL,
     model TEXT NOT NULL,
     PRIMARY KEY (machine, ts)
   ) WITHOUT ROWID;
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
   );`,
  `CREATE TABLE energy_decisions (
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
   );`,
  `CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
   CREATE INDEX alerts_by_resolution ON alerts(kind, resolved_at);
   CREATE INDEX missed_by_time ON missed_failures(recorded_at);`,
];

/**
 * Vigil's operational state: alerts and their outbox, scores, training runs, energy decisions, dead
 * letters. Always SQLite, also when sensor data lives in InfluxDB. Checked at start (quick_check, one
 * pass over the file): a damaged state database stops the start with what is wrong and what to do,
 * instead of starting and answering requests with errors later.
 */
export function openStateDb(file: string): Database.Database {
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
  const version = db.pragma('user_version', { simple: true }) as number;
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}
