/**
 * ISO 8601 date-times as Vigil takes them from outside (MQTT payloads, HTTP parameters): a time zone
 * is required (a bare local time is ambiguous on a gateway whose clock zone may differ), and the
 * calendar must be real — `Date.parse` would read 2026-02-30 as 2026-03-02 and store a wrong time.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))$/;

/** The instants JavaScript dates can hold (±100,000,000 days around 1970). */
export const MAX_TIME_MS = 8.64e15;

export type IsoResult = { ok: true; ms: number } | { ok: false; why: string };

export function parseIsoStrict(text: string): IsoResult {
  const m = ISO_8601.exec(text);
  if (!m) return { ok: false, why: 'is not ISO-8601 with a time zone' };
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12) return { ok: false, why: `has no month ${month}` };
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > days)
    return { ok: false, why: `has no day ${day} in ${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}` };
  if (hour > 23 || minute > 59 || second > 59) return { ok: false, why: 'has no such time of day' };
  if (m[8] !== 'Z' && (Number(m[10]) > 23 || Number(m[11]) > 59)) return { ok: false, why: 'has no such time zone offset' };
  const ms = Date.parse(
    text.includes(':', text.length - 6) || m[8] === 'Z' ? text : `${text.slice(0, -5)}${text.slice(-5, -2)}:${text.slice(-2)}`,
  );
  if (!Number.isFinite(ms)) return { ok: false, why: 'is not a real date' };
  return { ok: true, ms };
}

/** An instant as ISO 8601, or its number when it lies beyond what a Date holds (for messages about bad input). */
export function isoOrNumber(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS ? new Date(ms).toISOString() : String(ms);
}

/** A span for people to read: "40 min", "14 h", "3.5 d" (alert texts, notes). */
export function roughDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'unknown';
  const m = Math.max(0, ms) / 60_000;
  if (m < 90) return `${Math.round(m)} min`;
  const h = m / 60;
  if (h < 48) return `${Math.round(h)} h`;
  const d = h / 24;
  return `${d < 10 ? d.toFixed(1) : Math.round(d)} d`;
}
