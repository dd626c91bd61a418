import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type PolicyInput } from '../../src/scheduler/policy.js';
import { bestWindow, meanOver, valueAt, type SeriesPoint } from '../../src/scheduler/series.js';
import { replayDecisions } from '../../src/scheduler/simulate.js';
import { WeeklySchedule, localTime } from '../../src/scheduler/sources/weekly.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5); // a Monday, 00:00 UTC
/** Hourly points from T0 with the given values. */
const hourly = (values: number[]): SeriesPoint[] => values.map((value, i) => ({ ts: T0 + i * H, durationMs: H, value }));
// Dirty at night, clean from 10:00 to 14:00, dirty again.
const CARBON = hourly(Array.from({ length: 48 }, (_, h) => (h % 24 >= 10 && h % 24 < 14 ? 100 : 400)));

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    now: T0,
    need: { reason: '2 new failures since the last run', forced: false },
    deadline: T0 + 24 * H,
    expectedRunMs: 2 * H,
    carbon: CARBON,
    price: null,
    objective: 'carbon',
    weights: { carbon: 0.5, price: 0.5 },
    tolerance: 0.02,
    busy: null,
    busyCalendar: null,
    onBattery: false,
    budget: { usedKWh: 0, limitKWh: null, expectedRunKWh: 0.05 },
    ...over,
  };
}

describe('energy policy', () => {
  it.each<[string, Partial<PolicyInput>, 'train' | 'defer' | 'skip', RegExp]>([
    [
      'no reason → no run, however clean the power',
      { need: { reason: null, forced: false }, now: T0 + 10 * H },
      'skip',
      /no reason to train/,
    ],
    [
      'a reason held back by minInterval → the skip says what held it',
      { need: { reason: null, forced: false, heldBack: 'minInterval holds back 12 new failures until 2026-01-05T11:00:00.000Z' } },
      'skip',
      /^minInterval holds back 12 new failures until 2026-01-05T11:00:00\.000Z$/,
    ],
    [
      'dirty now, a clean window ahead → defer, naming it',
      {},
      'defer',
      /deferred: 400\.0 gCO2e\/kWh now, 100\.0 expected 10:00–12:00 UTC, before deadline 00:00/,
    ],
    ['inside the clean window → train', { now: T0 + 10 * H }, 'train', /100\.0 gCO2e\/kWh, the best window/],
    ['within tolerance of the best → train', { now: T0 + 9 * H, tolerance: 1.6 }, 'train', /the best window/],
    [
      'the deadline leaves no later start → train on dirty power',
      { now: T0 + 22 * H, deadline: T0 + 24 * H },
      'train',
      /deadline 00:00 leaves no later start/,
    ],
    ['the clean window ends after the deadline → train now', { deadline: T0 + 8 * H, now: T0 + 2 * H }, 'train', /the best window/],
    [
      'a forced need (model too old) trains at once',
      { need: { reason: 'the champion is 31.0 days old', forced: true } },
      'train',
      /forced/,
    ],
    ['on battery → defer', { now: T0 + 10 * H, onBattery: true }, 'defer', /running on battery/],
    [
      'budget exhausted → defer',
      { now: T0 + 10 * H, budget: { usedKWh: 0.98, limitKWh: 1, expectedRunKWh: 0.05 } },
      'defer',
      /energy budget 0\.980 of 1 kWh used/,
    ],
    ['busy host in the clean window → defer', { now: T0 + 10 * H, busy: 'CPU 93% busy' }, 'defer', /host busy \(CPU 93% busy\)/],
    [
      'a run that would overlap a plant shift → defer',
      { now: T0 + 10 * H, busyCalendar: hourly(Array.from({ length: 48 }, (_, h) => (h === 11 ? 1 : 0))) },
      'defer',
      /overlap a busy period/,
    ],
    ['no carbon or price data → train when idle', { carbon: null }, 'train', /no price or carbon data; host idle/],
  ])('%s', (_name, over, action, reason) => {
    const d = decide(input(over));
    expect(d.action).toBe(action);
    expect(d.reason).toMatch(reason);
  });

  it('follows the tariff when price is the objective, and weighs both when asked', () => {
    const price = hourly(Array.from({ length: 48 }, (_, h) => (h % 24 >= 22 || h % 24 < 6 ? 0.1 : 0.3)));
    const byPrice = decide(input({ objective: 'price', price, now: T0 + 8 * H }));
    expect(byPrice.action).toBe('defer');
    expect(byPrice.window!.start).toBe(T0 + 22 * H);
    const weighted = decide(input({ objective: 'weighted', price, weights: { carbon: 1, price: 0 }, now: T0 + 8 * H }));
    expect(weighted.window!.start).toBe(T0 + 10 * H);
  });
});

describe('window selection', () => {
  it('finds the minimum-mean window a brute force over every minute finds', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 4, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        (values, hours, startAfter) => {
          const series = hourly(values);
          const earliest = T0 + startAfter * H + 15 * 60_000;
          const latestStart = T0 + (values.length - hours) * H;
          fc.pre(latestStart >= earliest);
          const best = bestWindow(series, earliest, latestStart, hours * H);
          let brute = Infinity;
          for (let t = earliest; t <= latestStart; t += 60_000) brute = Math.min(brute, meanOver(series, t, hours * H) ?? Infinity);
          expect(best).not.toBeNull();
          expect(best!.mean).toBeCloseTo(brute, 6);
          expect(best!.start).toBeGreaterThanOrEqual(earliest);
          expect(best!.end).toBeLessThanOrEqual(latestStart + hours * H);
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  it('reads values and time-weighted means, and refuses windows the series does not cover', () => {
    const s = hourly([10, 20, 30]);
    expect(valueAt(s, T0 + 90 * 60_000)).toBe(20);
    expect(valueAt(s, T0 + 3 * H)).toBeNull();
    expect(meanOver(s, T0 + 30 * 60_000, H)).toBeCloseTo(15);
    expect(meanOver(s, T0 + 2 * H, 2 * H)).toBeNull();
    expect(bestWindow(s, T0, T0 + 2 * H, 2 * H)).toMatchObject({ start: T0, mean: 15 });
  });
});

describe('weekly schedules (tariffs, plant shifts)', () => {
  it('applies days, local time zones, overnight periods, and later periods over earlier ones', () => {
    const tariff = new WeeklySchedule(
      [
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '22:00', value: 0.32 },
        { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '12:00', to: '14:00', value: 0.18 },
        { days: ['sat'], from: '22:00', to: '06:00', value: 0.05 },
      ],
      0.2,
      'Europe/Berlin',
    );
    // Monday 06:30 UTC is 07:30 in Berlin (winter, UTC+1): peak.
    expect(tariff.valueAt(T0 + 6.5 * H)).toBe(0.32);
    expect(tariff.valueAt(T0 + 11.5 * H)).toBe(0.18);
    expect(tariff.valueAt(T0 + 21.5 * H)).toBe(0.2);
    // Saturday 23:00 Berlin and the Sunday morning after belong to the Saturday-night period.
    const sat = T0 + 5 * 24 * H;
    expect(tariff.valueAt(sat + 22 * H)).toBe(0.05);
    expect(tariff.valueAt(sat + 27 * H)).toBe(0.05);
    expect(tariff.valueAt(sat + 30 * H)).toBe(0.2);
    expect(localTime(Date.UTC(2026, 6, 1, 12), 'Europe/Berlin')).toEqual({ day: 'wed', minute: 14 * 60 });
    expect(tariff.series(T0, T0 + H)).toHaveLength(4);
  });
});

describe('a year of decisions, replayed', () => {
  it('never emits more than starting at once with a perfect forecast, and waits for the daily trough', () => {
    // Two weeks of a daily cycle: 300 at night, 100 around noon.
    const days = 14;
    const series: SeriesPoint[] = Array.from({ length: days * 96 }, (_, i) => ({
      ts: T0 + i * 15 * 60_000,
      durationMs: 15 * 60_000,
      value: 200 + 100 * Math.cos(((i % 96) / 96) * 2 * Math.PI),
    }));
    const r = replayDecisions({ actual: series, jobMs: H, deadlineMs: 24 * H, dueAtMinute: 0, forecastError: 0, tolerance: 0, seed: 1 });
    expect(r.runs.length).toBeGreaterThanOrEqual(12);
    for (const run of r.runs) expect(run.policyIntensity).toBeLessThanOrEqual(run.baselineIntensity + 1e-9);
    expect(r.avoidedPercent).toBeGreaterThan(40);
    expect(new Date(r.runs[0]!.policyStart).getUTCHours()).toBe(11);
    const noisy = replayDecisions({
      actual: series,
      jobMs: H,
      deadlineMs: 24 * H,
      dueAtMinute: 0,
      forecastError: 0.2,
      tolerance: 0,
      seed: 1,
    });
    expect(noisy.avoidedPercent).toBeLessThanOrEqual(r.avoidedPercent + 1e-9);
  });
});
