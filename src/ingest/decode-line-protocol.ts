import type { MachineRef, Sample } from '../core/types.js';
import type { Decoded } from './decode-json.js';
import type { Rejection } from '../core/reasons.js';
import { ID_PATTERN, MAX_ITEMS_PER_MESSAGE, checkSensorName, checkTimeWindow, type ValidationContext } from './validate.js';

/** InfluxDB line protocol, as Telegraf and many PLC bridges emit it. */
export type Precision = 'ns' | 'us' | 'ms' | 's';

export interface ParsedLine {
  measurement: string;
  tags: Record<string, string>;
  fields: Array<[string, number | string | boolean]>;
  /** Raw integer text, in the sender's precision. */
  timestamp?: string;
}

class LineError extends Error {}

/**
 * Parses one line. Escapes follow the InfluxDB 1.x reference: `\,` and `\ ` in measurements,
 * additionally `\=` in tag keys/values and field keys; `\"` and `\\` in string field values.
 */
export function parseLine(line: string): ParsedLine {
  let i = 0;
  const n = line.length;

  const readToken = (stops: string, what: string): string => {
    let out = '';
    while (i < n) {
      const c = line[i]!;
      if (c === '\\' && i + 1 < n) {
        out += line[i + 1];
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      i++;
    }
    if (out.length === 0) throw new LineError(`empty ${what} at column ${i + 1}`);
    return out;
  };

  const measurement = readToken(', ', 'measurement');
  const tags: Record<string, string> = {};
  while (line[i] === ',') {
    i++;
    const key = readToken('=, ', 'tag key');
    if (line[i] !== '=') throw new LineError(`tag ${key} has no value`);
    i++;
    tags[key] = readToken(', ', `value of tag ${key}`);
  }
  if (line[i] !== ' ') throw new LineError('missing fields');
  while (line[i] === ' ') i++;

  const fields: ParsedLine['fields'] = [];
  for (;;) {
    const key = readToken('=, ', 'field key');
    if (line[i] !== '=') throw new LineError(`field ${key} has no value`);
    i++;
    fields.push([key, readFieldValue(key)]);
    if (line[i] === ',') {
      i++;
      continue;
    }
    break;
  }

  function readFieldValue(key: string): number | string | boolean {
    if (line[i] === '"') {
      i++;
      let out = '';
      while (i < n && line[i] !== '"') {
        if (line[i] === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) i++;
        out += line[i];
        i++;
      }
      if (line[i] !== '"') throw new LineError(`unterminated string in field ${key}`);
      i++;
      return out;
    }
    const start = i;
    while (i < n && line[i] !== ',' && line[i] !== ' ') i++;
    const text = line.slice(start, i);
    if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
    if (/^[+-]?\d+[iu]$/.test(text)) {
      if (text.endsWith('u') && text.startsWith('-')) throw new LineError(`negative unsigned integer in field ${key}`);
      return Number(text.slice(0, -1));
    }
    if (/^(t|T|true|True|TRUE)$/.test(text)) return true;
    if (/^(f|F|false|False|FALSE)$/.test(text)) return false;
    throw new LineError(`field ${key} has an invalid value ${JSON.stringify(text.slice(0, 40))}`);
  }

  let timestamp: string | undefined;
  if (line[i] === ' ') {
    while (line[i] === ' ') i++;
    const start = i;
    while (i < n && line[i] !== ' ') i++;
    const text = line.slice(start, i);
    if (text.length > 0) {
      if (!/^-?\d{1,19}$/.test(text)) throw new LineError(`timestamp ${JSON.stringify(text.slice(0, 30))} is not an integer`);
      timestamp = text;
    }
    while (line[i] === ' ') i++;
  }
  if (i < n) throw new LineError(`unexpected text at column ${i + 1}`);
  return { measurement, tags, fields, timestamp };
}

const DIVISOR: Record<Precision, bigint> = { ns: 1_000_000n, us: 1_000n, ms: 1n, s: 1n };

/** Integer timestamp text in `precision` → epoch ms (floor; sub-ms digits are dropped). */
export function timestampToMs(text: string, precision: Precision): number {
  const big = BigInt(text);
  if (precision === 's') return Number(big * 1000n);
  return Number(big / DIVISOR[precision]);
}

/**
 * Decodes a payload of one or more lines. The machine comes from the topic unless a line carries
 * `machine` (and optionally `site`, `line`) tags, as bridges publishing many machines on one topic do.
 * Fields become sensors (`measurement.field` unless the measurement is `telemetry`); booleans map to
 * 1/0; string fields are refused.
 */
export function decodeLineProtocol(
  text: string,
  topicMachine: MachineRef,
  ctx: ValidationContext & { precision: Precision },
): Decoded<Sample> {
  const rejections: Rejection[] = [];
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines.length > MAX_ITEMS_PER_MESSAGE) {
    return { items: [], rejections: [{ reason: 'too_many_items', detail: `${lines.length} lines, at most ${MAX_ITEMS_PER_MESSAGE}` }] };
  }
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '' || line.startsWith('#')) return;
    const where = `line ${index + 1}`;
    let parsed: ParsedLine;
    try {
      parsed = parseLine(line);
    } catch (err) {
      if (!(err instanceof LineError)) throw err;
      rejections.push({ reason: 'bad_line_protocol', detail: `${where}: ${err.message}` });
      return;
    }
    const machine = machineFromTags(parsed.tags, topicMachine);
    if (!machine) {
      rejections.push({ reason: 'bad_topic', detail: `${where}: machine/site/line tag has invalid characters` });
      return;
    }
    if (parsed.timestamp === undefined) {
      // Stamping on receipt could make two readings collide; the sender knows when it measured.
      rejections.push({ reason: 'missing_ts', detail: `${where}: no timestamp` });
      return;
    }
    const ts = checkTimeWindow(timestampToMs(parsed.timestamp, ctx.precision), ctx, where);
    if (!ts.ok) {
      rejections.push(ts.rejection);
      return;
    }
    const prefix = parsed.measurement === 'telemetry' ? '' : `${parsed.measurement}.`;
    const values: Record<string, number> = {};
    let kept = 0;
    for (const [key, value] of parsed.fields) {
      const sensor = prefix + key;
      const bad = checkSensorName(sensor, where);
      if (bad) {
        rejections.push(bad);
        continue;
      }
      if (typeof value === 'string') {
        rejections.push({ reason: 'non_numeric_value', detail: `${where}: field ${key} is a string` });
        continue;
      }
      const num = typeof value === 'boolean' ? (value ? 1 : 0) : value;
      if (!Number.isFinite(num)) {
        rejections.push({ reason: 'non_finite_value', detail: `${where}: field ${key}` });
        continue;
      }
      values[sensor] = num;
      kept++;
    }
    if (kept > 0) samples.push({ machine, ts: ts.value, values });
  });
  return { items: samples, rejections };
}

function machineFromTags(tags: Record<string, string>, fallback: MachineRef): MachineRef | null {
  const ref = {
    site: tags.site ?? fallback.site,
    line: tags.line ?? fallback.line,
    machine: tags.machine ?? fallback.machine,
  };
  return ID_PATTERN.test(ref.site) && ID_PATTERN.test(ref.line) && ID_PATTERN.test(ref.machine) ? ref : null;
}
