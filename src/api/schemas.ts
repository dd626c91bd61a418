import { Type, type TSchema } from '@sinclair/typebox';
import { VigilError } from '../core/errors.js';
import { MAX_TIME_MS, isoOrNumber, parseIsoStrict } from '../core/time.js';
import { ALERT_KINDS, ALERT_STATES } from '../alerts/index.js';
import { VERDICTS } from '../core/verdict-book.js';

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
export const IsoTime = Type.String({ description: 'ISO 8601 date-time' });
const MachineId = Type.String({ minLength: 1, maxLength: 128, pattern: '^[^/#+\\s]+$' });
export const MachineParams = Type.Object({ machine: MachineId }, { additionalProperties: false });
export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });
export const MachineRefSchema = Type.Object({ site: Type.String(), line: Type.String(), machine: Type.String() });
export const ErrorBody = Type.Object({ error: Type.Object({ code: Type.String(), message: Type.String() }) });
/** The error answers every route may give, so the docs list them. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ErrorBody]));
export const READ_ERRORS = [400, 401, 403] as const;
export const WRITE_ERRORS = [400, 401, 403, 404, 409, 413, 415, 429] as const;

export const TimeQuery = Type.String({
  minLength: 1,
  maxLength: 40,
  description: 'ISO 8601 date-time, epoch milliseconds, or relative like -1h, -30m, -7d',
});

/**
 * Reads a time parameter: ISO 8601 with a time zone (a real calendar date), epoch ms, or relative to
 * now ("-2h"). Whatever it gives lies between 1970 and the last instant a date can hold; anything
 * else is a 400 naming the parameter, never a time that makes a later step throw.
 */
export function parseTimeParam(name: string, value: string | undefined, fallback: number, now: number): number {
  if (value === undefined) return fallback;
  const bad = (why: string) => new VigilError('VGL_BAD_REQUEST', `${name} ${why}; got "${value.slice(0, 40)}"`);
  let t: number;
  const rel = /^-(\d{1,15})(s|m|h|d)$/.exec(value);
  if (rel) t = now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  else if (/^\d{1,15}$/.test(value)) t = Number(value);
  else {
    const parsed = parseIsoStrict(value);
    if (!parsed.ok) throw bad(`must be an ISO 8601 date-time with a time zone, epoch milliseconds or like -1h (it ${parsed.why})`);
    t = parsed.ms;
  }
  if (!(t >= 0 && t <= MAX_TIME_MS)) throw bad('lies before 1970 or beyond the last date there is');
  return t;
}

/** ISO 8601 of an instant; one beyond what a date holds (stored by an earlier version) reads as its number rather than failing the answer. */
export const iso = (t: number | null | undefined): string | null => (t === null || t === undefined ? null : isoOrNumber(t));

export const AlertSchema = Type.Object({
  id: Type.Integer(),
  machine: MachineRefSchema,
  kind: Type.Union(ALERT_KINDS.map((k) => Type.Literal(k))),
  subject: Type.String(),
  severity: Type.Union([Type.Literal('warning'), Type.Literal('critical')]),
  state: Type.Union(ALERT_STATES.map((s) => Type.Literal(s))),
  message: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  openedAt: IsoTime,
  updatedAt: IsoTime,
  updates: Type.Integer(),
  acknowledged: Nullable(Type.Object({ at: IsoTime, by: Type.String(), note: Nullable(Type.String()) })),
  resolved: Nullable(Type.Object({ at: IsoTime, by: Type.String(), resolution: Type.String(), note: Nullable(Type.String()) })),
  outcome: Nullable(Type.String()),
  leadMs: Nullable(Type.Number()),
  escalations: Type.Array(
    Type.Object({
      step: Type.String({ description: '{severity}:{index} of the alerts.escalation rule' }),
      at: IsoTime,
      raisedTo: Nullable(Type.String()),
      channels: Type.Array(Type.String()),
    }),
    { description: 'escalation steps taken while the alert was open and unacknowledged' },
  ),
  verdict: Nullable(
    Type.Object(
      { verdict: Type.Union(VERDICTS.map((v) => Type.Literal(v))), by: Type.String(), at: IsoTime },
      { description: "a technician's verdict on an anomaly alert; the next health model learns from it" },
    ),
  ),
});
