import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { IngestBatch, MachineEvent, MachineEventType, MachineRef, Sample } from '../core/types.js';
import type { EventQuery, MachineInfo, ReadingQuery, SensorStore, StoreHealth } from './sensor-store.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS machines (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  site TEXT NOT NULL,
  line TEXT NOT NULL,
  last_ts INTEGER
);
CREATE TABLE IF NOT EXISTS sensors (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS machine_sensors (
  machine_id INTEGER NOT NULL,
  sensor_id INTEGER NOT NULL,
  PRIMARY KEY (machine_id, sensor_id)
) WITHOUT ROWID;
-- (machine, ts, sensor) order: a machine's time range is one contiguous index scan.
CREATE TABLE IF NOT EXISTS readings (
  machine_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  sensor_id INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (machine_id, ts, sensor_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  machine_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  type TEXT NOT NULL,
  component TEXT,
  note TEXT,
  PRIMARY KEY (machine_id, ts, type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
`;

/** (machine id, sensor id) as one number: a Set of numbers costs a fraction of one of strings at 100,000 machines. */
const pairKey = (machineId: number, sensorId: number) => machineId * 2 ** 26 + sensorId;

/**
 * The embedded, zero-setup sensor store (better-sqlite3, WAL). Synchronous: the daemon runs it in
 * its own thread (SqliteWorkerStore); the training worker and the command line use it directly.
 */
export class SqliteSensorStore implements SensorStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | null = null;
  private readonly machineIds = new Map<string, { id: number; site: string; line: string }>();
  private readonly sensorIds = new Map<string, number>();
  private readonly machineSensors = new Set<number>();
  private stmts!: ReturnType<SqliteSensorStore['prepare']>;

  constructor(
    private readonly file: string,
    private readonly options: { busyTimeoutMs?: number } = {},
  ) {}

  async open(): Promise<void> {
    this.openNow();
  }

  /** Opens the database (again, after a failed open: a damaged file replaced, a full disk freed). */
  private openNow(): Database.Database {
    if (this.db) return this.db;
    if (this.file !== ':memory:') mkdirSync(path.dirname(this.file), { recursive: true });
    let db: Database.Database | null = null;
    try {
      db = new Database(this.file, { timeout: this.options.busyTimeoutMs ?? 5000 });
      db.pragma('journal_mode = WAL');
      // The journal in front of this store already makes acknowledged data durable; NORMAL is safe in WAL.
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      this.stmts = this.prepare(db);
      this.db = db;
      this.loadCaches();
      return db;
    } catch (err) {
      db?.close();
      this.db = null;
      throw Object.assign(new Error(`sensor database ${this.file} cannot be opened: ${(err as Error).message}`, { cause: err }), { code: (err as { code?: unknown }).code });
    }
  }

  private prepare(db: Database.Database) {
    return {
      insertMachine: db.prepare('INSERT INTO machines (name, site, line) VALUES (?, ?, ?)'),
      moveMachine: db.prepare('UPDATE machines SET site = ?, line = ? WHERE id = ?'),
      touchMachine: db.prepare('UPDATE machines SET last_ts = MAX(COALESCE(last_ts, ?), ?) WHERE id = ?'),
      insertSensor: db.prepare('INSERT INTO sensors (name) VALUES (?)'),
      insertMachineSensor: db.prepare('INSERT OR IGNORE INTO machine_sensors (machine_id, sensor_id) VALUES (?, ?)'),
      upsertReading: db.prepare(
        'INSERT INTO readings (machine_id, ts, sensor_id, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value',
      ),
      upsertEvent: db.prepare(
        'INSERT INTO events (machine_id, ts, type, component, note) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET component = excluded.component, note = excluded.note',
      ),
    };
  }

  /** The open database; a store whose open failed tries again here, so every write retry is also an open retry. */
  private get handle(): Database.Database {
    return this.db ?? this.openNow();
  }

  private machineId(ref: MachineRef): number {
    const known = this.machineIds.get(ref.machine);
    if (known) {
      if (known.site !== ref.site || known.line !== ref.line) {
        this.stmts.moveMachine.run(ref.site, ref.line, known.id);
        known.site = ref.site;
        known.line = ref.line;
      }
      return known.id;
    }
    const id = Number(this.stmts.insertMachine.run(ref.machine, ref.site, ref.line).lastInsertRowid);
    this.machineIds.set(ref.machine, { id, site: ref.site, line: ref.line });
    return id;
  }

  private sensorId(machineId: number, name: string): number {
    let id = this.sensorIds.get(name);
    if (id === undefined) {
      id = Number(this.stmts.insertSensor.run(name).lastInsertRowid);
      this.sensorIds.set(name, id);
    }
    const pair = pairKey(machineId, id);
    if (!this.machineSensors.has(pair)) {
      this.stmts.insertMachineSensor.run(machineId, id);
      this.machineSensors.add(pair);
    }
    return id;
  }

  async write(batch: IngestBatch): Promise<void> {
    const db = this.handle;
    const tx = db.transaction((b: IngestBatch) => {
      const latest = new Map<number, number>();
      for (const s of b.samples) {
        const mid = this.machineId(s.machine);
        for (const sensor in s.values) {
          this.stmts.upsertReading.run(mid, s.ts, this.sensorId(mid, sensor), s.values[sensor]);
        }
        const prev = latest.get(mid);
        if (prev === undefined || s.ts > prev) latest.set(mid, s.ts);
      }
      for (const e of b.events) {
        this.stmts.upsertEvent.run(this.machineId(e.machine), e.ts, e.type, e.component ?? null, e.note ?? null);
      }
      for (const [mid, ts] of latest) this.stmts.touchMachine.run(ts, ts, mid);
    });
    try {
      tx(batch);
    } catch (err) {
      // A rolled-back transaction may have cached ids that were never committed.
      this.loadCaches();
      throw err;
    }
  }

  /** Name→id caches, so the write path does no lookups; rebuilt after a rolled-back transaction. */
  private loadCaches(): void {
    const db = this.handle;
    this.machineIds.clear();
    this.sensorIds.clear();
    this.machineSensors.clear();
    for (const m of db.prepare('SELECT id, name, site, line FROM machines').all() as Array<{ id: number; name: string; site: string; line: string }>) {
      this.machineIds.set(m.name, { id: m.id, site: m.site, line: m.line });
    }
    for (const s of db.prepare('SELECT id, name FROM sensors').all() as Array<{ id: number; name: string }>) this.sensorIds.set(s.name, s.id);
    for (const ms of db.prepare('SELECT machine_id, sensor_id FROM machine_sensors').all() as Array<{ machine_id: number; sensor_id: number }>) {
      this.machineSensors.add(pairKey(ms.machine_id, ms.sensor_id));
    }
  }

  async queryReadings(q: ReadingQuery): Promise<Sample[]> {
    const db = this.handle;
    const m = this.machineIds.get(q.machine);
    if (!m) return [];
    const ref: MachineRef = { site: m.site, line: m.line, machine: q.machine };
    const sensorFilter = q.sensors && q.sensors.length > 0 ? q.sensors.map((s) => this.sensorIds.get(s)).filter((id): id is number => id !== undefined) : null;
    if (sensorFilter && sensorFilter.length === 0) return [];
    const names = new Map<number, string>();
    for (const [name, id] of this.sensorIds) names.set(id, name);
    const sql =
      'SELECT ts, sensor_id, value FROM readings WHERE machine_id = ? AND ts >= ? AND ts < ?' +
      (sensorFilter ? ` AND sensor_id IN (${sensorFilter.map(() => '?').join(',')})` : '') +
      ' ORDER BY ts, sensor_id';
    const rows = db.prepare(sql).raw().iterate(m.id, q.from, q.to, ...(sensorFilter ?? [])) as IterableIterator<[number, number, number]>;
    const out: Sample[] = [];
    let current: Sample | null = null;
    for (const [ts, sid, value] of rows) {
      if (!current || current.ts !== ts) {
        if (q.limit !== undefined && out.length >= q.limit) break;
        current = { machine: ref, ts, values: {} };
        out.push(current);
      }
      current.values[names.get(sid)!] = value;
    }
    return out;
  }

  async queryEvents(q: EventQuery): Promise<MachineEvent[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.machine !== undefined) {
      where.push('m.name = ?');
      args.push(q.machine);
    }
    if (q.from !== undefined) {
      where.push('e.ts >= ?');
      args.push(q.from);
    }
    if (q.to !== undefined) {
      where.push('e.ts < ?');
      args.push(q.to);
    }
    if (q.types && q.types.length > 0) {
      where.push(`e.type IN (${q.types.map(() => '?').join(',')})`);
      args.push(...q.types);
    }
    const sql =
      'SELECT m.name, m.site, m.line, e.ts, e.type, e.component, e.note FROM events e JOIN machines m ON m.id = e.machine_id' +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY e.ts, m.name, e.type';
    const rows = this.handle.prepare(sql).all(...args) as Array<{ name: string; site: string; line: string; ts: number; type: MachineEventType; component: string | null; note: string | null }>;
    return rows.map((r) => {
      const e: MachineEvent = { machine: { site: r.site, line: r.line, machine: r.name }, ts: r.ts, type: r.type };
      if (r.component !== null) e.component = r.component;
      if (r.note !== null) e.note = r.note;
      return e;
    });
  }

  async listMachines(): Promise<MachineInfo[]> {
    const rows = this.handle
      .prepare(
        `SELECT m.name, m.site, m.line, m.last_ts, group_concat(s.name, char(31)) AS sensors
         FROM machines m LEFT JOIN machine_sensors ms ON ms.machine_id = m.id LEFT JOIN sensors s ON s.id = ms.sensor_id
         GROUP BY m.id ORDER BY m.name`,
      )
      .all() as Array<{ name: string; site: string; line: string; last_ts: number | null; sensors: string | null }>;
    return rows.map((r) => ({
      ref: { site: r.site, line: r.line, machine: r.name },
      sensors: r.sensors ? r.sensors.split('\u001f').sort() : [],
      lastTs: r.last_ts,
    }));
  }

  async health(): Promise<StoreHealth> {
    const t0 = performance.now();
    try {
      this.handle.prepare('SELECT 1').get();
      return { ok: true, latencyMs: performance.now() - t0 };
    } catch (err) {
      return { ok: false, latencyMs: performance.now() - t0, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = null;
  }
}
