import { InfluxDB, escape } from 'influx';
import type { IngestBatch, MachineEvent, MachineEventType, MachineRef, Sample } from '../core/types.js';
import { LineProtocolWriter } from './line-protocol.js';
import {
  type ByteSink,
  StoreRejectedError,
  type EventQuery,
  type MachineInfo,
  type ReadingQuery,
  type SensorStore,
  type StoreHealth,
} from '../core/sensor-store.js';

export interface InfluxStoreOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  retentionPolicy?: string;
  timeoutMs: number;
}

interface RawSeries {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}
interface RawResponse {
  results: Array<{ series?: RawSeries[]; error?: string }>;
}

const TELEMETRY = 'telemetry';
const EVENTS = 'events';

/**
 * InfluxDB 1.x: measurement `telemetry` (tags site/line/machine, one float field per sensor) and
 * `events` (tags site/line/machine/type, string fields component/note). InfluxDB keeps one point per
 * series and timestamp, merging fields, which makes writes idempotent on (machine, sensor, ts).
 */
export class InfluxSensorStore implements SensorStore {
  readonly kind = 'influx' as const;
  readonly usesValueText = true;
  private readonly influx: InfluxDB;
  private readonly lineProtocol = new LineProtocolWriter(TELEMETRY, EVENTS);
  private readonly writeUrl: string;
  private readonly authorization: string | undefined;
  private databaseReady = false;
  private body = Buffer.alloc(0);

  constructor(private readonly options: InfluxStoreOptions) {
    const url = new URL(options.url);
    this.influx = new InfluxDB({
      hosts: [
        {
          host: url.hostname,
          port: Number(url.port || (url.protocol === 'https:' ? 443 : 8086)),
          protocol: url.protocol === 'https:' ? 'https' : 'http',
        },
      ],
      database: options.database,
      username: options.username,
      password: options.password,
      // Retries belong to the batch writer, which also owns backoff and the journal.
      pool: { maxRetries: 0, requestTimeout: options.timeoutMs },
    });
    // Writes go straight to /write with our own line protocol (see line-protocol.ts); queries and
    // database management stay with the influx package.
    const write = new URL('/write', url);
    write.searchParams.set('db', options.database);
    write.searchParams.set('precision', 'ms');
    if (options.retentionPolicy) write.searchParams.set('rp', options.retentionPolicy);
    this.writeUrl = write.toString();
    this.authorization = options.username
      ? `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`
      : undefined;
  }

  async open(): Promise<void> {
    await this.ensureDatabase();
  }

  private async ensureDatabase(): Promise<void> {
    if (this.databaseReady) return;
    // CREATE DATABASE is idempotent in InfluxDB 1.x.
    await this.influx.createDatabase(this.options.database);
    this.databaseReady = true;
  }

  async write(batch: IngestBatch): Promise<void> {
    await this.post(this.lineProtocol.encode(batch));
  }

  encodeInto(batch: IngestBatch, out: ByteSink): number {
    return this.lineProtocol.encodeInto(batch, out);
  }

  async writeEncoded(chunks: readonly Uint8Array[]): Promise<void> {
    if (chunks.length === 1) return this.post(chunks[0]!);
    // One body buffer, written again for each commit (the writer awaits each before the next).
    let length = 0;
    for (const c of chunks) length += c.byteLength;
    if (this.body.length < length) this.body = Buffer.allocUnsafeSlow(Math.max(length, this.body.length * 2));
    let at = 0;
    for (const c of chunks) {
      this.body.set(c, at);
      at += c.byteLength;
    }
    await this.post(this.body.subarray(0, at));
  }

  private async post(body: Uint8Array): Promise<void> {
    await this.ensureDatabase();
    if (body.byteLength === 0) return;
    let res: Response;
    try {
      res = await fetch(this.writeUrl, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain; charset=utf-8', ...(this.authorization ? { authorization: this.authorization } : {}) },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`InfluxDB write failed: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
    }
    if (res.status === 204 || res.status === 200) {
      await res.arrayBuffer().catch(() => undefined);
      return;
    }
    const text = (await res.text().catch(() => '')).slice(0, 1000);
    const message = `InfluxDB write ${res.status}: ${text.trim()}`;
    // The database may have been dropped or the server replaced; make sure it exists next time.
    if (/database not found/i.test(text)) {
      this.databaseReady = false;
      throw new Error(message);
    }
    // 400: the data itself is refused (InfluxDB has written the points it could); retrying cannot help.
    if (res.status === 400) throw new StoreRejectedError(message);
    throw new Error(message);
  }

  private async raw(query: string): Promise<RawResponse> {
    const res = (await this.influx.queryRaw(query, { precision: 'ms', retentionPolicy: this.options.retentionPolicy })) as RawResponse;
    for (const r of res.results) if (r.error) throw new Error(`InfluxDB: ${r.error}`);
    return res;
  }

  async queryReadings(q: ReadingQuery): Promise<Sample[]> {
    const fields = q.sensors && q.sensors.length > 0 ? q.sensors.map((s) => escape.quoted(s)).join(', ') : '*';
    const limit = q.limit !== undefined ? ` LIMIT ${Math.max(0, Math.floor(q.limit))}` : '';
    const res = await this.raw(
      `SELECT ${fields} FROM ${TELEMETRY} WHERE "machine" = ${escape.stringLit(q.machine)} AND time >= ${Math.floor(q.from)}ms AND time < ${Math.floor(q.to)}ms GROUP BY "site", "line" ORDER BY time ASC${limit}`,
    );
    const out: Sample[] = [];
    for (const series of res.results[0]?.series ?? []) {
      const ref: MachineRef = { site: series.tags?.site ?? 'default', line: series.tags?.line ?? 'default', machine: q.machine };
      const cols = series.columns;
      const names = cols.map((c) => (c === 'site' || c === 'line' || c === 'machine' ? null : c));
      for (const row of series.values) {
        const values = rowValues(row, names);
        if (values) out.push({ machine: ref, ts: row[0] as number, values });
      }
    }
    // A machine that moved between lines has several series; present one time-ordered list.
    out.sort((a, b) => a.ts - b.ts);
    return q.limit !== undefined ? out.slice(0, q.limit) : out;
  }

  async aggregateReadings(q: Omit<ReadingQuery, 'limit'>, everyMs: number): Promise<Sample[]> {
    const every = Math.max(1, Math.floor(everyMs));
    const wanted = q.sensors && q.sensors.length > 0 ? q.sensors : null;
    const fields = wanted ? wanted.map((s) => `mean(${escape.quoted(s)}) AS ${escape.quoted(s)}`).join(', ') : 'mean(*)';
    // Not grouped by site and line: a machine that moved between lines is one series of buckets.
    const res = await this.raw(
      `SELECT ${fields} FROM ${TELEMETRY} WHERE "machine" = ${escape.stringLit(q.machine)} AND time >= ${Math.floor(q.from)}ms AND time < ${Math.floor(q.to)}ms GROUP BY time(${every}ms) fill(none)`,
    );
    const out: Sample[] = [];
    let ref: MachineRef | null = null;
    for (const series of res.results[0]?.series ?? []) {
      // mean(*) names its columns mean_<field>.
      const names = series.columns.map((c) => (wanted ? c : c.replace(/^mean_/, '')));
      for (const row of series.values) {
        const values = rowValues(row, names);
        if (!values) continue;
        ref ??= await this.machineRef(q.machine);
        out.push({ machine: ref, ts: row[0] as number, values });
      }
    }
    return out;
  }

  /** Site and line of a machine, from its latest series (an aggregate over all of them carries no tags). */
  private async machineRef(machine: string): Promise<MachineRef> {
    const res = await this.raw(
      `SHOW TAG VALUES FROM ${TELEMETRY} WITH KEY IN ("site", "line") WHERE "machine" = ${escape.stringLit(machine)}`,
    );
    const tags: Record<string, string> = {};
    for (const row of res.results[0]?.series?.[0]?.values ?? []) tags[String(row[0])] = String(row[1]);
    return { site: tags.site ?? 'default', line: tags.line ?? 'default', machine };
  }

  async queryEvents(q: EventQuery): Promise<MachineEvent[]> {
    const where: string[] = [];
    if (q.machine !== undefined) where.push(`"machine" = ${escape.stringLit(q.machine)}`);
    if (q.from !== undefined) where.push(`time >= ${Math.floor(q.from)}ms`);
    if (q.to !== undefined) where.push(`time < ${Math.floor(q.to)}ms`);
    if (q.types && q.types.length > 0) where.push(`(${q.types.map((t) => `"type" = ${escape.stringLit(t)}`).join(' OR ')})`);
    const res = await this.raw(
      `SELECT "component", "note" FROM ${EVENTS}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY "site", "line", "machine", "type"`,
    );
    const out: MachineEvent[] = [];
    for (const series of res.results[0]?.series ?? []) {
      const t = series.tags ?? {};
      for (const row of series.values) {
        const e: MachineEvent = {
          machine: { site: t.site ?? 'default', line: t.line ?? 'default', machine: t.machine ?? '' },
          ts: row[0] as number,
          type: t.type as MachineEventType,
        };
        if (typeof row[1] === 'string' && row[1] !== '') e.component = row[1];
        if (typeof row[2] === 'string' && row[2] !== '') e.note = row[2];
        out.push(e);
      }
    }
    out.sort((a, b) => a.ts - b.ts || a.machine.machine.localeCompare(b.machine.machine) || a.type.localeCompare(b.type));
    return out;
  }

  async listMachines(): Promise<MachineInfo[]> {
    // Latest point per series gives site/line and last time; last(*) per machine says which fields it ever had.
    const res = await this.raw(
      `SELECT * FROM ${TELEMETRY} GROUP BY "machine", "site", "line" ORDER BY time DESC LIMIT 1; ` +
        `SELECT last(*) FROM ${TELEMETRY} GROUP BY "machine"; ` +
        `SELECT last("note") FROM ${EVENTS} GROUP BY "machine", "site", "line"`,
    );
    const byMachine = new Map<string, MachineInfo>();
    for (const series of res.results[0]?.series ?? []) {
      const t = series.tags ?? {};
      const ts = series.values[0]?.[0] as number | undefined;
      const name = t.machine ?? '';
      const prev = byMachine.get(name);
      if (!prev || (ts ?? -Infinity) > (prev.lastTs ?? -Infinity)) {
        byMachine.set(name, {
          ref: { site: t.site ?? 'default', line: t.line ?? 'default', machine: name },
          sensors: [],
          lastTs: ts ?? null,
        });
      }
    }
    for (const series of res.results[1]?.series ?? []) {
      const info = byMachine.get(series.tags?.machine ?? '');
      if (!info) continue;
      const row = series.values[0] ?? [];
      info.sensors = series.columns
        .map((c, i) => (i > 0 && row[i] !== null && c.startsWith('last_') ? c.slice(5) : null))
        .filter((c): c is string => c !== null)
        .sort();
    }
    for (const series of res.results[2]?.series ?? []) {
      const t = series.tags ?? {};
      const name = t.machine ?? '';
      if (!byMachine.has(name))
        byMachine.set(name, { ref: { site: t.site ?? 'default', line: t.line ?? 'default', machine: name }, sensors: [], lastTs: null });
    }
    return [...byMachine.values()].sort((a, b) => a.ref.machine.localeCompare(b.ref.machine));
  }

  async health(): Promise<StoreHealth> {
    const t0 = performance.now();
    try {
      const [host] = await this.influx.ping(Math.min(this.options.timeoutMs, 5000));
      const latencyMs = performance.now() - t0;
      return host?.online ? { ok: true, latencyMs } : { ok: false, latencyMs, detail: 'InfluxDB did not answer /ping' };
    } catch (err) {
      return { ok: false, latencyMs: performance.now() - t0, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    // The client holds no persistent connections of its own beyond Node's agent.
  }
}

/** A row's numeric fields by column name (null names and column 0, the time, skipped); null when it has none. */
function rowValues(row: readonly unknown[], names: ReadonlyArray<string | null>): Record<string, number> | null {
  let values: Record<string, number> | null = null;
  for (let c = 1; c < names.length; c++) {
    const v = row[c];
    const name = names[c];
    if (typeof v === 'number' && name) (values ??= {})[name] = v;
  }
  return values;
}
