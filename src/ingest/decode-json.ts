import { MACHINE_EVENT_TYPES, type MachineEvent, type MachineEventType, type MachineRef, type Sample } from '../core/types.js';
import type { Rejection } from '../core/reasons.js';
import {
  MAX_ITEMS_PER_MESSAGE,
  MAX_SENSORS_PER_READING,
  checkSensorName,
  checkTimestamp,
  checkValue,
  goodNames,
  rememberGoodName,
  type ValidationContext,
} from './validate.js';

export interface Decoded<T> {
  items: T[];
  rejections: Rejection[];
}

const TELEMETRY_FIELDS = new Set(['ts', 'values']);
const EVENT_FIELDS = new Set(['ts', 'type', 'component', 'note']);
const MAX_COMPONENT = 128;
const MAX_NOTE = 2000;

/** Parses text as JSON and returns its items (a single object counts as one item). */
function parseItems(text: string, rejections: Rejection[]): unknown[] | null {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    rejections.push({ reason: 'bad_json', detail: (err as Error).message.slice(0, 200) });
    return null;
  }
  const items: unknown[] = Array.isArray(doc) ? (doc as unknown[]) : [doc];
  if (items.length > MAX_ITEMS_PER_MESSAGE) {
    rejections.push({ reason: 'too_many_items', detail: `${items.length} items, at most ${MAX_ITEMS_PER_MESSAGE}` });
    return null;
  }
  return items;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function unknownField(item: Record<string, unknown>, allowed: Set<string>): string | undefined {
  for (const key in item) if (!allowed.has(key)) return key;
  return undefined;
}

/** `{"ts": …, "values": {"sensor": number}}` or an array of those. Good readings survive bad neighbours. */
export function decodeJsonTelemetry(text: string, machine: MachineRef, ctx: ValidationContext): Decoded<Sample> {
  const rejections: Rejection[] = [];
  const items = parseItems(text, rejections);
  if (!items) return { items: [], rejections };
  const samples: Sample[] = [];
  items.forEach((item, i) => {
    const where = items.length > 1 ? `[${i}]` : 'reading';
    if (!isPlainObject(item)) {
      rejections.push({ reason: 'bad_shape', detail: `${where}: expected an object with "ts" and "values"` });
      return;
    }
    const extra = unknownField(item, TELEMETRY_FIELDS);
    if (extra !== undefined) {
      rejections.push({ reason: 'unknown_field', detail: `${where}: field ${JSON.stringify(extra.slice(0, 80))}` });
      return;
    }
    const ts = checkTimestamp(item.ts, ctx, where);
    if (!ts.ok) {
      rejections.push(ts.rejection);
      return;
    }
    const raw = item.values;
    if (!isPlainObject(raw)) {
      rejections.push(
        raw === undefined
          ? { reason: 'missing_values', detail: `${where}: no "values"` }
          : { reason: 'bad_shape', detail: `${where}: "values" must be an object of sensor: number` },
      );
      return;
    }
    let count = 0;
    let allGood = true;
    for (const key in raw) {
      count++;
      const value = raw[key];
      if (allGood && !(goodNames.has(key) && typeof value === 'number' && Number.isFinite(value))) allGood = false;
    }
    if (count > MAX_SENSORS_PER_READING) {
      rejections.push({ reason: 'too_many_items', detail: `${where}: ${count} sensors, at most ${MAX_SENSORS_PER_READING}` });
      return;
    }
    // The common case, checked without allocating: known-good names and finite numbers only. The
    // parsed object itself then holds the values (JSON.parse makes a plain object with own properties).
    if (allGood && count > 0) {
      samples.push({ machine, ts: ts.value, values: raw as Record<string, number> });
      return;
    }
    const keys = Object.keys(raw);
    const values: Record<string, number> = {};
    let kept = 0;
    for (const key of keys) {
      const value = raw[key];
      if (goodNames.has(key) && typeof value === 'number' && Number.isFinite(value)) {
        values[key] = value;
        kept++;
        continue;
      }
      const bad = checkSensorName(key, where);
      if (bad) {
        rejections.push(bad);
        continue;
      }
      const v = checkValue(raw[key], `${where}.values.${key}`);
      if (!v.ok) {
        rejections.push(v.rejection);
        continue;
      }
      values[key] = v.value;
      kept++;
      rememberGoodName(key);
    }
    if (kept > 0) samples.push({ machine, ts: ts.value, values });
    else if (keys.length === 0) rejections.push({ reason: 'missing_values', detail: `${where}: "values" is empty` });
  });
  return { items: samples, rejections };
}

/** `{"ts", "type", "component"?, "note"?}` or an array of those. */
export function decodeJsonEvents(text: string, machine: MachineRef, ctx: ValidationContext): Decoded<MachineEvent> {
  const rejections: Rejection[] = [];
  const items = parseItems(text, rejections);
  if (!items) return { items: [], rejections };
  const events: MachineEvent[] = [];
  items.forEach((item, i) => {
    const where = items.length > 1 ? `[${i}]` : 'event';
    const checked = checkEvent(item, machine, ctx, where);
    if ('reason' in checked) rejections.push(checked);
    else events.push(checked);
  });
  return { items: events, rejections };
}

/** One event object, from MQTT or from the HTTP API. */
export function checkEvent(item: unknown, machine: MachineRef, ctx: ValidationContext, where = 'event'): MachineEvent | Rejection {
  if (!isPlainObject(item)) return { reason: 'bad_shape', detail: `${where}: expected an object with "ts" and "type"` };
  const extra = unknownField(item, EVENT_FIELDS);
  if (extra !== undefined) return { reason: 'unknown_field', detail: `${where}: field ${JSON.stringify(extra.slice(0, 80))}` };
  const ts = checkTimestamp(item.ts, ctx, where);
  if (!ts.ok) return ts.rejection;
  if (!MACHINE_EVENT_TYPES.includes(item.type as MachineEventType)) {
    return {
      reason: 'bad_event_type',
      detail: `${where}: type ${typeof item.type === 'object' && item.type !== null ? 'an object' : JSON.stringify(item.type)?.slice(0, 40)}`,
    };
  }
  const event: MachineEvent = { machine, ts: ts.value, type: item.type as MachineEventType };
  for (const [field, max] of [
    ['component', MAX_COMPONENT],
    ['note', MAX_NOTE],
  ] as const) {
    const v = item[field];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length > max) {
      return { reason: 'bad_event_field', detail: `${where}: ${field} must be a string of at most ${max} characters` };
    }
    event[field] = v;
  }
  return event;
}
