import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

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
];

/**
 * Vigil's operational state (dead letters now; alerts, outbox, runs later). Always SQLite, also when
 * sensor data lives in InfluxDB.
 */
export function openStateDb(file: string): Database.Database {
  if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
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
