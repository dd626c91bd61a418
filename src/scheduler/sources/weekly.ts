import type { SeriesPoint } from '../series.js';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface WeeklyPeriod {
  days: Weekday[];
  /** "HH:MM" local time, inclusive. */
  from: string;
  /** "HH:MM" local time, exclusive; "24:00" for the end of the day; may be before `from` (overnight). */
  to: string;
  value: number;
}

const minutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
};

/** Local weekday and minute of day in a time zone (Intl, so DST is handled by the platform's tz data). */
export function localTime(ts: number, timezone: string): { day: Weekday; minute: number } {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: timezone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(ts);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return { day: get('weekday').toLowerCase().slice(0, 3) as Weekday, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

/**
 * A value by weekday and local time: a time-of-use tariff (price per kWh), or the plant's busy shifts
 * (1 = busy). Later periods win where they overlap, so a tariff can say "peak on weekdays 07–22" and
 * then "but 12–14 is solar-cheap".
 */
export class WeeklySchedule {
  constructor(
    private readonly periods: readonly WeeklyPeriod[],
    private readonly defaultValue: number,
    private readonly timezone: string,
  ) {}

  valueAt(ts: number): number {
    const { day, minute } = localTime(ts, this.timezone);
    let value = this.defaultValue;
    for (const p of this.periods) {
      const from = minutes(p.from);
      const to = minutes(p.to);
      const inside = from <= to ? minute >= from && minute < to : minute >= from || minute < to;
      // An overnight period belongs to the day it starts on.
      const dayOk = from <= to || minute >= from ? p.days.includes(day) : p.days.includes(WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!);
      if (inside && dayOk) value = p.value;
    }
    return value;
  }

  /** As a series of 15-minute points over [from, to), for window selection. */
  series(from: number, to: number): SeriesPoint[] {
    const step = 15 * 60_000;
    const out: SeriesPoint[] = [];
    for (let t = Math.floor(from / step) * step; t < to; t += step) out.push({ ts: t, durationMs: step, value: this.valueAt(t) });
    return out;
  }
}
