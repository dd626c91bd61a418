import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { MACHINE_EVENT_TYPES, type MachineEventType, type MachineRef } from '../../src/core/types.js';
import { StrictModeError, type ReplayEvent, type ReplayItem, type ReplaySource, type RowError } from './source.js';

export interface CsvOptions {
  file: string;
  eventsFile?: string;
  tsColumn?: string;
  machineColumn: string;
  siteColumn: string;
  lineColumn: string;
  site: string;
  line: string;
  delimiter: string;
  /** Shift timestamps so the first row lands here; default: keep them. */
  startMs?: number;
  strict: boolean;
}

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const SENSOR = /^[A-Za-z0-9_.:-]{1,64}$/;

/** RFC 4180 fields: quotes around fields, doubled quotes inside them. */
export function splitCsvLine(line: string, delimiter: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === delimiter) {
      out.push(field);
      field = '';
    } else field += c;
  }
  if (quoted) throw new Error('unterminated quoted field');
  out.push(field);
  return out;
}

/** Epoch ms or ISO-8601 with a time zone, as the MQTT contract accepts. */
function headerCells(line: string, delimiter: string, file: string): string[] {
  try {
    return splitCsvLine(line, delimiter).map((c) => c.trim());
  } catch (err) {
    throw new Error(`${file}:1: header: ${(err as Error).message}`, { cause: err });
  }
}

export function parseTimestamp(text: string): number | null {
  const t = text.trim();
  if (/^\d{9,16}$/.test(t)) return Number(t);
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(t)) {
    const ms = Date.parse(t.replace(' ', 'T'));
    return Number.isFinite(ms) ? ms : null;
  }
  return null;
}

interface Header {
  ts: number;
  machine: number;
  site: number;
  line: number;
  sensors: Array<[index: number, name: string]>;
}

function readHeader(cells: string[], o: CsvOptions): Header {
  const names = cells.map((c) => c.trim());
  const find = (name: string) => names.indexOf(name);
  const ts = o.tsColumn ? find(o.tsColumn) : (['ts', 'timestamp', 'time'].map(find).find((i) => i >= 0) ?? -1);
  if (ts < 0) throw new Error(`${o.file}:1: no timestamp column (${o.tsColumn ?? 'ts, timestamp or time'}); use --ts-column`);
  const machine = find(o.machineColumn);
  if (machine < 0) throw new Error(`${o.file}:1: no machine column "${o.machineColumn}"; use --machine-column`);
  const site = find(o.siteColumn);
  const line = find(o.lineColumn);
  const used = new Set([ts, machine, site, line]);
  const sensors: Array<[number, string]> = [];
  names.forEach((name, i) => {
    if (used.has(i)) return;
    if (!SENSOR.test(name)) throw new Error(`${o.file}:1: column ${i + 1} name ${JSON.stringify(name)} is not a valid sensor name`);
    sensors.push([i, name]);
  });
  if (sensors.length === 0) throw new Error(`${o.file}:1: no sensor columns besides timestamp and machine`);
  return { ts, machine, site, line, sensors };
}

function loadEvents(file: string, o: CsvOptions, errors: RowError[]): ReplayEvent[] {
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  const head = headerCells(lines[0] ?? '', o.delimiter, file);
  const col = (n: string) => head.indexOf(n);
  const [tsI, mI, typeI] = [col(o.tsColumn ?? 'ts') >= 0 ? col(o.tsColumn ?? 'ts') : col('timestamp'), col(o.machineColumn), col('type')];
  if (tsI < 0 || mI < 0 || typeI < 0) throw new Error(`${file}:1: events need columns ts (or timestamp), ${o.machineColumn} and type`);
  const events: ReplayEvent[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    const fail = (reason: string) => {
      const e = { file, line: i + 1, reason };
      if (o.strict) throw new StrictModeError(e);
      errors.push(e);
    };
    let cells: string[];
    try {
      cells = splitCsvLine(lines[i]!, o.delimiter);
    } catch (err) {
      fail((err as Error).message);
      continue;
    }
    const ts = parseTimestamp(cells[tsI] ?? '');
    const machine = (cells[mI] ?? '').trim();
    const type = (cells[typeI] ?? '').trim() as MachineEventType;
    if (ts === null) fail(`timestamp ${JSON.stringify(cells[tsI])} is neither epoch ms nor ISO-8601 with a zone`);
    else if (!ID.test(machine)) fail(`machine ${JSON.stringify(machine)} is not a valid id`);
    else if (!MACHINE_EVENT_TYPES.includes(type)) fail(`type ${JSON.stringify(type)} is not one of ${MACHINE_EVENT_TYPES.join(', ')}`);
    else {
      const e: ReplayEvent = { kind: 'event', machine: { site: o.site, line: o.line, machine }, ts, type };
      const component = cells[col('component')]?.trim();
      const note = cells[col('note')]?.trim();
      if (component) e.component = component;
      if (note) e.note = note;
      events.push(e);
    }
  }
  return events.sort((a, b) => a.ts - b.ts);
}

/** First and last timestamps of the file (one quick pass), for shifting and looping. */
async function scan(o: CsvOptions, header: Header): Promise<{ first: number | null; last: number | null; rows: number }> {
  let first: number | null = null;
  let last: number | null = null;
  let rows = 0;
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(o.file), crlfDelay: Infinity })) {
    if (n++ === 0 || line.trim() === '') continue;
    rows++;
    let ts: number | null = null;
    try {
      ts = parseTimestamp(splitCsvLine(line, o.delimiter)[header.ts] ?? '');
    } catch {
      // reported on the real pass
    }
    if (ts === null) continue;
    first = first === null ? ts : Math.min(first, ts);
    last = last === null ? ts : Math.max(last, ts);
  }
  return { first, last, rows };
}

/**
 * A CSV with a header row: a timestamp column, a machine column (optionally site/line columns), the
 * rest numeric sensors; empty cells are missing values. Rows are streamed, never all in memory.
 */
export async function csvSource(o: CsvOptions): Promise<ReplaySource> {
  const firstLine = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: createReadStream(o.file), crlfDelay: Infinity });
    rl.once('line', (l) => {
      resolve(l);
      rl.close();
    });
    rl.once('close', () => resolve(''));
    rl.once('error', reject);
  });
  const header = readHeader(headerCells(firstLine.replace(/^\uFEFF/, ''), o.delimiter, o.file), o);
  const errors: RowError[] = [];
  const events = o.eventsFile ? loadEvents(o.eventsFile, o, errors) : [];
  const { first, last, rows } = await scan(o, header);
  const firstTs = Math.min(first ?? Infinity, events[0]?.ts ?? Infinity);
  const lastTs = Math.max(last ?? -Infinity, events[events.length - 1]?.ts ?? -Infinity);
  const baseShift = o.startMs !== undefined && Number.isFinite(firstTs) ? o.startMs - firstTs : 0;
  return {
    description: `${o.file} (${rows} rows, ${header.sensors.length} sensors${events.length ? `, ${events.length} events` : ''})`,
    total: rows + events.length,
    spanMs: Number.isFinite(firstTs) ? lastTs - firstTs + 1 : 0,
    errors,
    async *items(loopShift: number): AsyncIterable<ReplayItem> {
      const shift = baseShift + loopShift;
      let e = 0;
      let n = 0;
      for await (const line of createInterface({ input: createReadStream(o.file), crlfDelay: Infinity })) {
        n++;
        if (n === 1 || line.trim() === '') continue;
        const fail = (reason: string) => {
          const err = { file: o.file, line: n, reason };
          if (o.strict) throw new StrictModeError(err);
          if (loopShift === 0) errors.push(err);
        };
        let cells: string[];
        try {
          cells = splitCsvLine(line, o.delimiter);
        } catch (err) {
          fail((err as Error).message);
          continue;
        }
        const ts = parseTimestamp(cells[header.ts] ?? '');
        if (ts === null) {
          fail(`timestamp ${JSON.stringify(cells[header.ts] ?? '')} is neither epoch ms nor ISO-8601 with a zone`);
          continue;
        }
        const machine: MachineRef = {
          site: header.site >= 0 ? (cells[header.site] ?? '').trim() : o.site,
          line: header.line >= 0 ? (cells[header.line] ?? '').trim() : o.line,
          machine: (cells[header.machine] ?? '').trim(),
        };
        if (!ID.test(machine.machine) || !ID.test(machine.site) || !ID.test(machine.line)) {
          fail(`machine/site/line ${JSON.stringify([machine.machine, machine.site, machine.line])} is not a valid id`);
          continue;
        }
        const values: Record<string, number> = {};
        let bad: string | null = null;
        for (const [i, name] of header.sensors) {
          const cell = (cells[i] ?? '').trim();
          if (cell === '') continue;
          const v = Number(cell);
          if (!Number.isFinite(v)) {
            bad = `column ${name}: ${JSON.stringify(cell.slice(0, 40))} is not a finite number`;
            break;
          }
          values[name] = v;
        }
        if (bad) {
          fail(bad);
          continue;
        }
        while (e < events.length && events[e]!.ts <= ts) yield { ...events[e], ts: events[e++]!.ts + shift } as ReplayEvent;
        if (Object.keys(values).length > 0) yield { kind: 'reading', machine, ts: ts + shift, values };
      }
      while (e < events.length) yield { ...events[e], ts: events[e++]!.ts + shift } as ReplayEvent;
    },
  };
}
