import { readFileSync } from 'node:fs';
import type { SeriesPoint } from '../series.js';

/** Grid carbon intensity (gCO2e/kWh), measured or forecast. */
export interface CarbonSource {
  readonly name: string;
  series(now: number): Promise<SeriesPoint[]>;
}

export class CarbonDataError extends Error {
  constructor(origin: string, reason: string) {
    super(`carbon intensity from ${origin}: ${reason}`);
    this.name = 'CarbonDataError';
  }
}

const TIME_KEYS = ['timestamp', 'datetime', 'time', 'point_time', 'Time', 'date'];
const VALUE_KEYS = ['value', 'carbonIntensity', 'carbon_intensity', 'Carbon Intensity', 'moer', 'intensity'];
const MAX_POINTS = 200_000;
const MAX_RESPONSE_CHARS = 16 * 1024 * 1024;

/** "2020-01-01 00:15:00" (UTC, as in the ENTSO-E derived traces) or any ISO 8601 string. */
function parseTime(s: unknown): number {
  if (typeof s === 'number') return s;
  if (typeof s !== 'string') return NaN;
  const plain = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$/.test(s.trim()) ? `${s.trim().replace(' ', 'T')}Z` : s;
  return Date.parse(plain);
}

/** Orders points and fills in durations from the spacing (the last one repeats the one before). */
function finish(points: Array<{ ts: number; value: number; durationMs?: number }>, origin: string): SeriesPoint[] {
  if (points.length === 0) throw new CarbonDataError(origin, 'no data points');
  if (points.length > MAX_POINTS) throw new CarbonDataError(origin, `more than ${MAX_POINTS} points`);
  points.sort((a, b) => a.ts - b.ts);
  return points.map((p, i) => {
    const next = points[i + 1];
    const spacing = next ? next.ts - p.ts : i > 0 ? p.ts - points[i - 1]!.ts : 3_600_000;
    return { ts: p.ts, value: p.value, durationMs: p.durationMs ?? Math.max(1, spacing) };
  });
}

/** CSV with a header: a time column and a value column (`Time,Carbon Intensity`, `timestamp,value`, …). */
export function parseCarbonCsv(text: string, origin: string): SeriesPoint[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new CarbonDataError(origin, 'expected a header and at least one row');
  const header = lines[0]!.split(',').map((h) => h.trim());
  const ti = header.findIndex((h) => TIME_KEYS.includes(h));
  const vi = header.findIndex((h) => VALUE_KEYS.includes(h));
  if (ti < 0 || vi < 0)
    throw new CarbonDataError(
      origin,
      `header needs a time column (${TIME_KEYS.join('/')}) and a value column (${VALUE_KEYS.join('/')}); got ${header.join(',')}`,
    );
  const points: Array<{ ts: number; value: number }> = [];
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.split(',');
    const ts = parseTime(cols[ti]);
    const value = Number(cols[vi]);
    if (!Number.isFinite(ts) || !Number.isFinite(value) || value < 0)
      throw new CarbonDataError(origin, `line ${i + 1}: bad time or value: ${lines[i]!.slice(0, 80)}`);
    points.push({ ts, value });
  }
  return finish(points, origin);
}

/**
 * JSON: the Carbon Aware SDK's `/emissions/forecasts/current` answer (`[{forecastData: [{timestamp,
 * duration (minutes), value}]}]`), or a plain list of `{timestamp|datetime|point_time, value|…}` as
 * WattTime and Electricity Maps return it, possibly under `data`, `forecast` or `history`.
 */
export function parseCarbonJson(doc: unknown, origin: string): SeriesPoint[] {
  let list: unknown = doc;
  if (Array.isArray(doc) && doc.length > 0 && typeof doc[0] === 'object' && doc[0] !== null && 'forecastData' in doc[0])
    list = (doc[0] as { forecastData: unknown }).forecastData;
  else if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    const o = doc as Record<string, unknown>;
    list = o.forecastData ?? o.data ?? o.forecast ?? o.history;
  }
  if (!Array.isArray(list))
    throw new CarbonDataError(origin, 'expected a list of points, a Carbon Aware SDK forecast, or an object with data/forecast/history');
  const points = list.map((item, i) => {
    if (!item || typeof item !== 'object') throw new CarbonDataError(origin, `point ${i} is not an object`);
    const o = item as Record<string, unknown>;
    const ts = parseTime(TIME_KEYS.map((k) => o[k]).find((v) => v !== undefined));
    const value = Number(VALUE_KEYS.map((k) => o[k]).find((v) => v !== undefined));
    if (!Number.isFinite(ts) || !Number.isFinite(value) || value < 0)
      throw new CarbonDataError(origin, `point ${i}: bad time or value ${JSON.stringify(item).slice(0, 80)}`);
    const minutes = typeof o.duration === 'number' && o.duration > 0 ? o.duration : undefined;
    return { ts, value, durationMs: minutes ? minutes * 60_000 : undefined };
  });
  return finish(points, origin);
}

/** A series from a CSV or JSON file, read once (a year of 15-minute points is 35k rows). */
export class FileCarbonSource implements CarbonSource {
  private cache: SeriesPoint[] | null = null;
  constructor(readonly file: string) {}
  get name(): string {
    return `file:${this.file}`;
  }
  async series(): Promise<SeriesPoint[]> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      throw new CarbonDataError(this.file, `cannot read: ${(err as Error).message}`);
    }
    if (this.file.endsWith('.json')) {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        throw new CarbonDataError(this.file, `not JSON: ${(err as Error).message}`);
      }
      this.cache = parseCarbonJson(doc, this.file);
    } else this.cache = parseCarbonCsv(text, this.file);
    return this.cache;
  }
}

/** A forecast endpoint, fetched at most every `refreshMs`; the last good answer is kept when a refresh fails. */
export class HttpCarbonSource implements CarbonSource {
  private cache: { at: number; series: SeriesPoint[] } | null = null;
  constructor(private readonly o: { url: string; headers: Record<string, string>; refreshMs: number; timeoutMs: number }) {}
  get name(): string {
    return `http:${new URL(this.o.url).host}`;
  }
  async series(now: number): Promise<SeriesPoint[]> {
    if (this.cache && now - this.cache.at < this.o.refreshMs) return this.cache.series;
    try {
      const res = await fetch(this.o.url, {
        headers: { accept: 'application/json', ...this.o.headers },
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      if (!res.ok) throw new CarbonDataError(this.name, `HTTP ${res.status}`);
      const text = await res.text();
      // A forecast is kilobytes; a misconfigured URL must not fill the gateway's memory.
      if (text.length > MAX_RESPONSE_CHARS) throw new CarbonDataError(this.name, `answer larger than ${MAX_RESPONSE_CHARS} characters`);
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        throw new CarbonDataError(this.name, `not JSON: ${(err as Error).message}`);
      }
      const series = parseCarbonJson(doc, this.name);
      this.cache = { at: now, series };
      return series;
    } catch (err) {
      if (this.cache) return this.cache.series;
      throw err instanceof CarbonDataError ? err : new CarbonDataError(this.name, (err as Error).message);
    }
  }
}
