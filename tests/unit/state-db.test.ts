import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerErrorHandling } from '../../src/api/errors.js';
import { openStateDb } from '../../src/store/state-db.js';
import { tempDir } from '../support/fixtures.js';

/** A state database with some rows, closed, and its path. */
function filledStateDb(): string {
  const file = path.join(tempDir(), 'vigil.db');
  const db = openStateDb(file);
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
    expect(() => openStateDb(file)).toThrow(expect.objectContaining({ code: 'VGL_STATE_DAMAGED', message: expect.stringMatching(new RegExp(`state database ${file.replaceAll('/', '\\/')} is damaged.*restore it from a backup.*\\.recover`, 'si')) }));
  });

  it('refuses a file that is no database at all', () => {
    const file = path.join(tempDir(), 'vigil.db');
    writeFileSync(file, Buffer.alloc(8192, 0x41));
    expect(() => openStateDb(file)).toThrow(expect.objectContaining({ code: 'VGL_STATE_DAMAGED' }));
  });

  it('opens a sound one as before (garbage appended past its pages is ignored by SQLite)', () => {
    const file = filledStateDb();
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.alloc(8192, 0x5a)]));
    const db = openStateDb(file);
    expect((db.prepare('SELECT count(*) AS n FROM energy_decisions').get() as { n: number }).n).toBe(2000);
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
