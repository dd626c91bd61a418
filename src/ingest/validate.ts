import { isoOrNumber, parseIsoStrict } from '../core/time.js';
import type { Rejection } from '../core/reasons.js';

/** Limits every decoder applies; `now` is the receive time, so replays judge a message as when it arrived. */
export interface ValidationContext {
  now: number;
  maxFutureSkewMs: number;
  maxAgeMs: number;
}

export const MAX_ITEMS_PER_MESSAGE = 10_000;
export const MAX_SENSORS_PER_READING = 1_000;
const SENSOR_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Machine, site and line ids, from MQTT topics and HTTP alike; ids of dots only (`.`, `..`) would read as paths. */
export const ID_PATTERN = /^(?!\.+$)[A-Za-z0-9_.:-]{1,64}$/;

export type Checked<T> = { ok: true; value: T } | { ok: false; rejection: Rejection };

const reject = (reason: Rejection['reason'], detail: string): { ok: false; rejection: Rejection } => ({
  ok: false,
  rejection: { reason, detail },
});

/** Epoch ms (number) or ISO-8601 with zone → epoch ms within the allowed window. */
export function checkTimestamp(raw: unknown, ctx: ValidationContext, where: string): Checked<number> {
  if (raw === undefined || raw === null) return reject('missing_ts', `${where}: no "ts"`);
  let ms: number;
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw) || raw < 0) return reject('bad_ts', `${where}: ts ${raw} is not a non-negative finite number`);
    ms = Math.floor(raw);
  } else if (typeof raw === 'string') {
    const parsed = parseIsoStrict(raw);
    if (!parsed.ok) return reject('bad_ts', `${where}: ts ${JSON.stringify(raw.slice(0, 60))} ${parsed.why}`);
    ms = parsed.ms;
  } else {
    return reject('bad_ts', `${where}: ts must be epoch milliseconds or an ISO-8601 string`);
  }
  return checkTimeWindow(ms, ctx, where);
}

export function checkTimeWindow(ms: number, ctx: ValidationContext, where: string): Checked<number> {
  if (ms > ctx.now + ctx.maxFutureSkewMs) {
    return reject('ts_in_future', `${where}: ts ${isoOrNumber(ms)} is ${Math.round((ms - ctx.now) / 1000)} s ahead of the gateway clock`);
  }
  if (ms < ctx.now - ctx.maxAgeMs) {
    return reject('ts_too_old', `${where}: ts ${isoOrNumber(ms)} is older than the accepted age (epoch seconds instead of milliseconds?)`);
  }
  return { ok: true, value: ms };
}

// InfluxDB refuses a field named time; site/line/machine would shadow the tags of the same name;
// `__proto__` as an object key sets the prototype instead of a value, so the reading would vanish.
const RESERVED_SENSOR_NAMES = new Set(['time', 'site', 'line', 'machine', '__proto__']);

export function checkSensorName(name: string, where: string): Rejection | null {
  if (SENSOR_NAME.test(name) && !RESERVED_SENSOR_NAMES.has(name)) return null;
  return {
    reason: 'bad_sensor_name',
    detail: `${where}: sensor name ${JSON.stringify(name.slice(0, 80))}${RESERVED_SENSOR_NAMES.has(name) ? ' is reserved' : ''}`,
  };
}

/** Sensor names that passed checkSensorName; a plant has hundreds, the bound only guards against floods. */
export const goodNames = new Set<string>();
export function rememberGoodName(name: string): void {
  if (goodNames.size >= 10_000) goodNames.clear();
  goodNames.add(name);
}

/** A JSON sensor value: finite numbers pass; NaN/Infinity spelled as strings get their own reason. */
export function checkValue(raw: unknown, where: string): Checked<number> {
  if (typeof raw === 'number') {
    return Number.isFinite(raw) ? { ok: true, value: raw } : reject('non_finite_value', `${where}: ${raw}`);
  }
  if (typeof raw === 'string' && /^[+-]?(nan|inf|infinity)$/i.test(raw.trim())) {
    return reject('non_finite_value', `${where}: ${JSON.stringify(raw)}`);
  }
  // Objects and arrays are named, not printed: printing one nested thousands deep would overflow the stack.
  const shown =
    raw !== null && typeof raw === 'object' ? (Array.isArray(raw) ? 'an array' : 'an object') : JSON.stringify(raw)?.slice(0, 80);
  return reject('non_numeric_value', `${where}: ${shown} is not a number`);
}
