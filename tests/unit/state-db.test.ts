import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/api/errors.js';
import Database from 'better-sqlite3';
import { STATE_SCHEMAS, openVigilState } from '../../src/state.js';
import { tempDir } from '../support/fixtures.js';

/** A state database with some rows, closed, and its path. */
function filledStateDb(): string {
  const file = path.join(tempDir(), 'vigil.db');
  const db = openVigilState(file);
  const insert = db.prepare("INSERT INTO energy_decisions (at, action, reason) VALUES (?, 'defer', ?)");
  for (let i = 0; i < 2000; i++) insert.run(i, 'carbon high '.repeat(20));
  db.close();
  return file;
}

describe('state database', () => {
  it('refuses to start on a damaged file, naming it and what to do', () => {
    const file = filledStateDb();
    const bytes = readFileSync(file);
    // Garbage over the last pages: the tables there are damaged, the header is not.
    bytes.fill(0x5a, bytes.length - 3 * 4096, bytes.length - 4096);
    writeFileSync(file, bytes);
    expect(() => openVigilState(file)).toThrow(
      expect.objectContaining({
        code: 'VGL_STATE_DAMAGED',
        message: expect.stringMatching(
          new RegExp(`state database ${file.replaceAll('/', '\\/')} is damaged.*restore it from a backup.*\\.recover`, 'si'),
        ),
      }),
    );
  });

  it('refuses a file that is no database at all', () => {
    const file = path.join(tempDir(), 'vigil.db');
    writeFileSync(file, Buffer.alloc(8192, 0x41));
    expect(() => openVigilState(file)).toThrow(expect.objectContaining({ code: 'VGL_STATE_DAMAGED' }));
  });

  it('opens a sound one as before (garbage appended past its pages is ignored by SQLite)', () => {
    const file = filledStateDb();
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(8192, 0x5a)]));
    const db = openVigilState(file);
    expect((db.prepare('SELECT count(*) AS n FROM energy_decisions').get() as { n: number }).n).toBe(2000);
    db.close();
  });

  it('a file from before stages owned their tables opens as it was: no step runs twice, rows are kept', () => {
    const file = filledStateDb();
    // What the single numbered list left behind: all four steps applied, counted in user_version only.
    const old = new Database(file);
    old.exec('DROP TABLE state_migrations');
    // Steps added since that list (no legacyVersion) were never in such a file.
    old.exec('ALTER TABLE training_runs DROP COLUMN kind; ALTER TABLE training_runs DROP COLUMN role');
    old.exec('ALTER TABLE alerts DROP COLUMN escalations; ALTER TABLE alerts DROP COLUMN raised_to');
    old.exec(
      'ALTER TABLE alerts DROP COLUMN verdict; ALTER TABLE alerts DROP COLUMN verdict_by; ALTER TABLE alerts DROP COLUMN verdict_at',
    );
    old.exec('DROP TABLE health_scores; DROP TABLE judged_periods; DROP TABLE missed_failures');
    old.exec(
      'CREATE TABLE missed_failures (id INTEGER PRIMARY KEY, machine TEXT NOT NULL, failure_ts INTEGER NOT NULL, recorded_at INTEGER NOT NULL, UNIQUE (machine, failure_ts)); CREATE INDEX missed_by_time ON missed_failures(recorded_at)',
    );
    old.pragma('user_version = 4');
    old.close();
    const db = openVigilState(file);
    expect((db.prepare('SELECT count(*) AS n FROM energy_decisions').get() as { n: number }).n).toBe(2000);
    const ids = (db.prepare('SELECT id FROM state_migrations ORDER BY id').all() as Array<{ id: string }>).map((r) => r.id);
    expect(ids).toEqual(STATE_SCHEMAS.flatMap((s) => s.migrations.map((m) => m.id)).sort());
    db.close();
  });

  it('a file at an older legacy version gets only the steps it lacks', () => {
    const file = path.join(tempDir(), 'vigil.db');
    const old = new Database(file);
    const upTo = (v: number) => STATE_SCHEMAS.flatMap((s) => s.migrations).filter((m) => (m.legacyVersion ?? Infinity) <= v);
    for (const m of upTo(3)) old.exec(m.sql);
    old.pragma('user_version = 3');
    old.close();
    const db = openVigilState(file);
    // Step 4 (settings, two indexes) was missing and is there now.
    expect(
      db.prepare("SELECT name FROM sqlite_master WHERE name IN ('settings', 'missed_by_time', 'alerts_by_resolution') ORDER BY name").all(),
    ).toHaveLength(3);
    db.close();
  });

  it('damage found while running answers 503 with a stable code, not an internal error', async () => {
    const app = Fastify();
    registerErrorHandling(app);
    app.get('/x', async () => {
      throw Object.assign(new Error('database disk image is malformed'), { code: 'SQLITE_CORRUPT' });
    });
    const r = await app.inject('/x');
    expect(r.statusCode).toBe(503);
    expect(r.json().error).toMatchObject({ code: 'VGL_STATE_DAMAGED', message: expect.stringMatching(/damaged.*restore or salvage/) });
  });
});
