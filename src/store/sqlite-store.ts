import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { IngestBatch, MachineEvent, MachineEventType, MachineRef, Sample } from '../core/types.js';
import { StringInterner } from '../core/interner.js';
import { readBatches } from './sample-codec.js';
import type { EventQuery, MachineInfo, ReadingQuery, SensorStore, StoreHealth, WriteCounts } from '../core/sensor-store.js';

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

/**
 * A machine's known sensor ids as a bit set in words of 30 bits (small integers for V8): at 100,000
 * machines of 14 sensors a set of pairs cost tens of megabytes and a hash lookup per reading.
 */
interface MachineEntry {
  id: number;
  site: string;
  line: string;
  sensors: number[];
}
const hasSensor = (m: MachineEntry, sensorId: number) => ((m.sensors[(sensorId / 30) | 0] ?? 0) & (1 << (sensorId % 30))) !== 0;
function addSensor(m: MachineEntry, sensorId: number): void {
  const w = (sensorId / 30) | 0;
  while (m.sensors.length <= w) m.sensors.push(0);
  m.sensors[w] = m.sensors[w]! | (1 << (sensorId % 30));
}

/**
 * The embedded, zero-setup sensor store (better-sqlite3, WAL). Synchronous: the daemon runs it in
 * its own thread (SqliteWorkerStore); the training worker and the command line use it directly.
 */
export class SqliteSensorStore implements SensorStore {
  readonly kind = 'sqlite' as const;
  private db: Database.Database | null = null;
  private readonly machineIds = new Map<string, MachineEntry>();
  private readonly sensorIds = new Map<string, number>();
  /** Sites and lines, one copy each for all machines. */
  private readonly names = new StringInterner();
  /** What the transaction under way added to the caches, taken out again should it roll back. */
  private added: { machines: string[]; sensors: string[]; pairs: Array<[MachineEntry, number]> } | null = null;
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
      throw Object.assign(new Error(`sensor database ${this.file} cannot be opened: ${(err as Error).message}`, { cause: err }), {
        code: (err as { code?: unknown }).code,
      });
    }
  }

  private prepare(db: Database.Database) {
    return {
      insertMachine: db.prepare('INSERT INTO machines (name, site, line) VALUES (?, ?, ?)'),
      moveMachine: db.prepare('UPDATE machines SET site = ?, line = ? WHERE id = ?'),
      touchMachine: db.prepare('UPDATE machines SET last_ts = MAX(COALESCE(last_ts, ?), ?) WHERE id = ?'),
      insertSensor: db.prepare('INSERT INTO sensors (name) VALUES (?)'),
      insertMachineSensor: db.prepare('INSERT OR IGNORE INTO machine_sensors (machine_id, sensor_id) VALUES (?, ?)'),
      // The same value again (a redelivery) changes no row, so `changes` counts what was really stored.
      upsertReading: db.prepare(
        'INSERT INTO readings (machine_id, ts, sensor_id, value) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET value = excluded.value WHERE value IS NOT excluded.value',
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

  private machine(ref: MachineRef): MachineEntry {
    const known = this.machineIds.get(ref.machine);
    if (known) {
      if (known.site !== ref.site || known.line !== ref.line) {
        this.stmts.moveMachine.run(ref.site, ref.line, known.id);
        known.site = ref.site;
        known.line = ref.line;
      }
      return known;
    }
    const id = Number(this.stmts.insertMachine.run(ref.machine, ref.site, ref.line).lastInsertRowid);
    const entry: MachineEntry = { id, site: this.names.intern(ref.site), line: this.names.intern(ref.line), sensors: [] };
    this.machineIds.set(ref.machine, entry);
    this.added?.machines.push(ref.machine);
    return entry;
  }

  private sensorId(m: MachineEntry, name: string): number {
    let id = this.sensorIds.get(name);
    if (id === undefined) {
      id = Number(this.stmts.insertSensor.run(name).lastInsertRowid);
      this.sensorIds.set(name, id);
      this.added?.sensors.push(name);
    }
    if (!hasSensor(m, id)) {
      this.stmts.insertMachineSensor.run(m.id, id);
      addSensor(m, id);
      this.added?.pairs.push([m, id]);
    }
    return id;
  }

  async write(batch: IngestBatch): Promise<WriteCounts> {
    return this.transact((w) => {
      for (const s of batch.samples) {
        w.sample(s.machine, s.ts);
        for (const sensor in s.values) w.value(sensor, s.values[sensor]!);
      }
      for (const e of batch.events) w.event(e);
    });
  }

  /**
   * Writes batches in their binary form (sample-codec.ts) straight from the bytes, in one
   * transaction: the database thread builds no sample objects for them.
   */
  writeBinary(bytes: Uint8Array): WriteCounts {
    return this.transact((w) =>
      readBatches(bytes, { sample: (m, ts) => w.sample(m, ts), value: (n, v) => w.value(n, v), event: (e) => w.event(e) }),
    );
  }

  /** One transaction of samples, values and events; should it roll back, so do the ids it cached. */
  private transact(
    fill: (w: { sample(ref: MachineRef, ts: number): void; value(name: string, v: number): void; event(e: MachineEvent): void }) => void,
  ): WriteCounts {
    const db = this.handle;
    const latest = new Map<number, number>();
    let machine: MachineEntry | null = null;
    let ts = 0;
    const counts: WriteCounts = { samples: 0, readings: 0 };
    let sampleCounted = false;
    const w = {
      sample: (ref: MachineRef, at: number) => {
        machine = this.machine(ref);
        ts = at;
        sampleCounted = false;
        const prev = latest.get(machine.id);
        if (prev === undefined || at > prev) latest.set(machine.id, at);
      },
      value: (name: string, v: number) => {
        const m = machine!;
        if (this.stmts.upsertReading.run(m.id, ts, this.sensorId(m, name), v).changes === 0) return;
        counts.readings++;
        if (!sampleCounted) {
          sampleCounted = true;
          counts.samples++;
        }
      },
      event: (e: MachineEvent) => {
        this.stmts.upsertEvent.run(this.machine(e.machine).id, e.ts, e.type, e.component ?? null, e.note ?? null);
      },
    };
    const tx = db.transaction(() => {
      fill(w);
      for (const [mid, at] of latest) this.stmts.touchMachine.run(at, at, mid);
    });
    this.added = { machines: [], sensors: [], pairs: [] };
    try {
      tx();
      return counts;
    } catch (err) {
      // The transaction rolled back: ids cached during it were never committed.
      for (const [m, id] of this.added.pairs) m.sensors[(id / 30) | 0] = m.sensors[(id / 30) | 0]! & ~(1 << (id % 30));
      for (const name of this.added.machines) this.machineIds.delete(name);
      for (const name of this.added.sensors) this.sensorIds.delete(name);
      throw err;
    } finally {
      this.added = null;
    }
  }

  /** Name→id caches, so the write path does no lookups; read once when the database opens. */
  private loadCaches(): void {
    const db = this.handle;
    this.machineIds.clear();
    this.sensorIds.clear();
    const byId = new Map<number, MachineEntry>();
    for (const m of db.prepare('SELECT id, name, site, line FROM machines').all() as Array<{
      id: number;
      name: string;
      site: string;
      line: string;
    }>) {
      const entry: MachineEntry = { id: m.id, site: this.names.intern(m.site), line: this.names.intern(m.line), sensors: [] };
      this.machineIds.set(m.name, entry);
      byId.set(m.id, entry);
    }
    for (const s of db.prepare('SELECT id, name FROM sensors').all() as Array<{ id: number; name: string }>)
      this.sensorIds.set(s.name, s.id);
    for (const [machineId, sensorId] of db.prepare('SELECT machine_id, sensor_id FROM machine_sensors').raw().iterate() as IterableIterator<
      [number, number]
    >) {
      const m = byId.get(machineId);
      if (m) addSensor(m, sensorId);
    }
  }

  /**
   * A machine and the sensor ids of a query. The caches are this connection's; another connection
   * (the writer, when this one is the daemon's reader) may have added machines and sensors since,
   * so a miss looks in the database before it answers "none".
   */
  private resolve(q: Pick<ReadingQuery, 'machine' | 'sensors'>): { m: MachineEntry; sensorFilter: number[] | null } | null {
    const m = this.machineIds.get(q.machine) ?? this.lookUpMachine(q.machine);
    if (!m) return null;
    const wanted = q.sensors && q.sensors.length > 0 ? q.sensors : null;
    if (wanted && wanted.some((s) => !this.sensorIds.has(s))) this.loadSensorNames();
    if (!wanted) return { m, sensorFilter: null };
    const sensorFilter = wanted.map((s) => this.sensorIds.get(s)).filter((id): id is number => id !== undefined);
    return sensorFilter.length === 0 ? null : { m, sensorFilter };
  }

  /** Sensor names by id, read again when the database holds ids this connection has not seen. */
  private sensorNames(): Map<number, string> {
    const names = new Map<number, string>();
    for (const [name, id] of this.sensorIds) names.set(id, name);
    return names;
  }

  async queryReadings(q: ReadingQuery): Promise<Sample[]> {
    const db = this.handle;
    const found = this.resolve(q);
    if (!found) return [];
    const { m, sensorFilter } = found;
    const ref: MachineRef = { site: m.site, line: m.line, machine: q.machine };
    let names = this.sensorNames();
    const sql =
      'SELECT ts, sensor_id, value FROM readings WHERE machine_id = ? AND ts >= ? AND ts < ?' +
      (sensorFilter ? ` AND sensor_id IN (${sensorFilter.map(() => '?').join(',')})` : '') +
      ' ORDER BY ts, sensor_id';
    const rows = db
      .prepare(sql)
      .raw()
      .iterate(m.id, q.from, q.to, ...(sensorFilter ?? [])) as IterableIterator<[number, number, number]>;
    const out: Sample[] = [];
    let current: Sample | null = null;
    for (const [ts, sid, value] of rows) {
      if (!current || current.ts !== ts) {
        if (q.limit !== undefined && out.length >= q.limit) break;
        current = { machine: ref, ts, values: {} };
        out.push(current);
      }
      current.values[this.nameOf(sid, names, (fresh) => (names = fresh))] = value;
    }
    return out;
  }

  async aggregateReadings(q: Omit<ReadingQuery, 'limit'>, everyMs: number): Promise<Sample[]> {
    const db = this.handle;
    const found = this.resolve(q);
    if (!found) return [];
    const { m, sensorFilter } = found;
    const ref: MachineRef = { site: m.site, line: m.line, machine: q.machine };
    const every = Math.max(1, Math.floor(everyMs));
    let names = this.sensorNames();
    // Bucket starts aligned to the epoch (the ((x % e) + e) % e form also for times before 1970).
    const sql =
      'SELECT ts - (((ts % ?) + ?) % ?) AS bucket, sensor_id, AVG(value) FROM readings WHERE machine_id = ? AND ts >= ? AND ts < ?' +
      (sensorFilter ? ` AND sensor_id IN (${sensorFilter.map(() => '?').join(',')})` : '') +
      ' GROUP BY bucket, sensor_id ORDER BY bucket';
    const rows = db
      .prepare(sql)
      .raw()
      .iterate(every, every, every, m.id, q.from, q.to, ...(sensorFilter ?? [])) as IterableIterator<[number, number, number]>;
    const out: Sample[] = [];
    let current: Sample | null = null;
    for (const [bucket, sid, mean] of rows) {
      if (!current || current.ts !== bucket) {
        current = { machine: ref, ts: bucket, values: {} };
        out.push(current);
      }
      current.values[this.nameOf(sid, names, (fresh) => (names = fresh))] = mean;
    }
    return out;
  }

  /** One machine another connection may have added: read by its name (a miss costs one indexed lookup, never a reload). */
  private lookUpMachine(name: string): MachineEntry | undefined {
    const row = this.handle.prepare('SELECT id, site, line FROM machines WHERE name = ?').get(name) as
      { id: number; site: string; line: string } | undefined;
    if (!row) return undefined;
    const entry: MachineEntry = { id: row.id, site: this.names.intern(row.site), line: this.names.intern(row.line), sensors: [] };
    for (const [sensorId] of this.handle
      .prepare('SELECT sensor_id FROM machine_sensors WHERE machine_id = ?')
      .raw()
      .iterate(row.id) as IterableIterator<[number]>)
      addSensor(entry, sensorId);
    this.machineIds.set(name, entry);
    return entry;
  }

  /** The sensors table (one row per sensor name in the whole fleet) read again. */
  private loadSensorNames(): void {
    for (const s of this.handle.prepare('SELECT id, name FROM sensors').all() as Array<{ id: number; name: string }>)
      this.sensorIds.set(s.name, s.id);
  }

  private nameOf(id: number, names: Map<number, string>, renew: (fresh: Map<number, string>) => void): string {
    const known = names.get(id);
    if (known !== undefined) return known;
    this.loadSensorNames();
    const fresh = this.sensorNames();
    renew(fresh);
    return fresh.get(id) ?? `#${id}`;
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
    const rows = this.handle.prepare(sql).all(...args) as Array<{
      name: string;
      site: string;
      line: string;
      ts: number;
      type: MachineEventType;
      component: string | null;
      note: string | null;
    }>;
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
